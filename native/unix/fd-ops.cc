// Descriptor housekeeping. Man pages: socketpair(2), fcntl(2), close(2).
#include "fd-ops.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/system-error.h"

namespace portunus {

int SetCloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  if (flags == -1) return errno;
  if (fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1) return errno;
  return 0;
}

[[maybe_unused]] static int SetFlag(int fd, int flag, bool on) {
  int flags = fcntl(fd, F_GETFL);
  if (flags == -1) return errno;
  int wanted = on ? (flags | flag) : (flags & ~flag);
  if (wanted != flags && fcntl(fd, F_SETFL, wanted) == -1) return errno;
  return 0;
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string kind = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "stream";
  int type;
  if (kind == "stream") {
    type = SOCK_STREAM;
  } else if (kind == "seqpacket") {
    type = SOCK_SEQPACKET;
  } else if (kind == "dgram") {
    type = SOCK_DGRAM;
  } else {
    return ThrowInvalidArg(env, "socketpair type must be 'stream', 'seqpacket' or 'dgram'");
  }
  int fds[2];
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) == -1) {
    return ThrowSystemError(env, errno, "socketpair");
  }
#else
  // Platforms without the atomic flags (macOS) leave a window in which a concurrent fork could inherit the
  // pair; Node itself has the same window there.
  if (socketpair(AF_UNIX, type, 0, fds) == -1) return ThrowSystemError(env, errno, "socketpair");
  for (int fd : fds) {
    int err = SetCloexec(fd);
    if (err == 0) err = SetFlag(fd, O_NONBLOCK, true);
    if (err != 0) {
      close(fds[0]);
      close(fds[1]);
      return ThrowSystemError(env, err, "fcntl", fd);
    }
  }
#endif
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(uint32_t(0), Napi::Number::New(env, fds[0]));
  result.Set(uint32_t(1), Napi::Number::New(env, fds[1]));
  return result;
}

Napi::Value Dup(const Napi::CallbackInfo& info) {
  int fd = FdArgument(info, 0);
  if (fd < 0) return info.Env().Undefined();
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy == -1) return ThrowSystemError(info.Env(), errno, "dup", fd);
  return Napi::Number::New(info.Env(), copy);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = FdArgument(info, 0);
  if (fd < 0) return info.Env().Undefined();
  if (close(fd) == -1 && errno != EINTR) return ThrowSystemError(info.Env(), errno, "close", fd);
  return info.Env().Undefined();
}

Napi::Value SetInheritable(const Napi::CallbackInfo& info) {
  int fd = FdArgument(info, 0);
  if (fd < 0) return info.Env().Undefined();
  bool inheritable = info.Length() > 1 && info[1].ToBoolean().Value();
  int flags = fcntl(fd, F_GETFD);
  if (flags == -1) return ThrowSystemError(info.Env(), errno, "fcntl", fd);
  int wanted = inheritable ? (flags & ~FD_CLOEXEC) : (flags | FD_CLOEXEC);
  if (fcntl(fd, F_SETFD, wanted) == -1) return ThrowSystemError(info.Env(), errno, "fcntl", fd);
  return info.Env().Undefined();
}

}  // namespace portunus
