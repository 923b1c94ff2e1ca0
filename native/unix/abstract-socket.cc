// See abstract-socket.h. The address length given to the kernel is offsetof(sockaddr_un, sun_path) plus
// the name's bytes, leading NUL included and nothing after: in the abstract namespace every byte of that
// length is part of the name, so a padded name is a different one.
#ifdef __linux__
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#endif

#include "abstract-socket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/system-error.h"

namespace portunus {

#ifdef __linux__

namespace {

// Fills `address` and `length` from the Buffer argument at `index`; throws and returns false if it is not
// an abstract name that fits.
bool AbstractAddress(const Napi::CallbackInfo& info, size_t index, sockaddr_un* address, socklen_t* length) {
  if (info.Length() <= index || !info[index].IsBuffer()) {
    ThrowInvalidArg(info.Env(), "abstract socket address must be a Buffer");
    return false;
  }
  Napi::Buffer<char> name = info[index].As<Napi::Buffer<char>>();
  if (name.Length() < 2 || name.Length() > kSunPathSize || name.Data()[0] != '\0') {
    ThrowInvalidArg(info.Env(),
                    "abstract socket address must be a NUL byte and 1 or more bytes of name, within sun_path");
    return false;
  }
  memset(address, 0, sizeof(*address));
  address->sun_family = AF_UNIX;
  memcpy(address->sun_path, name.Data(), name.Length());
  *length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.Length());
  return true;
}

// Closes fd without disturbing errno, for error paths that report errno afterwards.
void CloseKeepingErrno(int fd) {
  int saved = errno;
  close(fd);
  errno = saved;
}

}  // namespace

Napi::Value ListenAbstract(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_un address;
  socklen_t length;
  if (!AbstractAddress(info, 0, &address, &length)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsNumber()) return ThrowInvalidArg(env, "backlog must be a number");
  int backlog = info[1].As<Napi::Number>().Int32Value();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd == -1) return ThrowSystemError(env, errno, "socket");
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) == -1) {
    CloseKeepingErrno(fd);
    return ThrowSystemError(env, errno, "bind");
  }
  if (listen(fd, backlog) == -1) {
    CloseKeepingErrno(fd);
    return ThrowSystemError(env, errno, "listen");
  }
  return Napi::Number::New(env, fd);
}

Napi::Value ConnectAbstract(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_un address;
  socklen_t length;
  if (!AbstractAddress(info, 0, &address, &length)) return env.Undefined();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd == -1) return ThrowSystemError(env, errno, "socket");
  int result;
  do {
    result = connect(fd, reinterpret_cast<sockaddr*>(&address), length);
  } while (result == -1 && errno == EINTR);
  if (result == -1) {
    CloseKeepingErrno(fd);
    return ThrowSystemError(env, errno, "connect");
  }
  return Napi::Number::New(env, fd);
}

#endif  // __linux__

}  // namespace portunus
