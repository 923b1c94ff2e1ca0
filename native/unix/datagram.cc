// See datagram.h.
#include "datagram.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/system-error.h"
#include "abstract-socket.h"

namespace portunus {

namespace {

#ifdef MSG_NOSIGNAL
constexpr int kSendFlags = MSG_DONTWAIT | MSG_NOSIGNAL;
#else
constexpr int kSendFlags = MSG_DONTWAIT;
#endif

}  // namespace

Napi::Value SendDatagram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsBuffer()) {
    return ThrowInvalidArg(env, "sendDatagram(address: Buffer, data: Buffer)");
  }
  Napi::Buffer<char> name = info[0].As<Napi::Buffer<char>>();
  Napi::Buffer<char> data = info[1].As<Napi::Buffer<char>>();
  bool abstract = name.Length() > 0 && name.Data()[0] == '\0';
  // A path needs room for its terminating NUL; an abstract name may fill sun_path.
  size_t room = abstract ? kSunPathSize : kSunPathSize - 1;
  if (name.Length() < (abstract ? 2 : 1) || name.Length() > room ||
      (!abstract && memchr(name.Data(), '\0', name.Length()) != nullptr)) {
    return ThrowInvalidArg(env, "datagram address must be a path, or a NUL byte and a name, that fits sun_path");
  }
  sockaddr_un address;
  memset(&address, 0, sizeof(address));
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, name.Data(), name.Length());
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.Length() + (abstract ? 0 : 1));

#ifdef SOCK_CLOEXEC
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
#else
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
#endif
  if (fd == -1) return ThrowSystemError(env, errno, "socket");
  ssize_t sent;
  do {
    sent = sendto(fd, data.Data(), data.Length(), kSendFlags, reinterpret_cast<sockaddr*>(&address), length);
  } while (sent == -1 && errno == EINTR);
  int err = sent == -1 ? errno : 0;
  close(fd);
  if (err != 0) return ThrowSystemError(env, err, "sendto");
  return env.Undefined();
}

}  // namespace portunus
