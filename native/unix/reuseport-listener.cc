// See reuseport-listener.h.
#include "reuseport-listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <vector>

#if defined(__linux__)
#include <linux/filter.h>
#endif

#include "../common/system-error.h"

namespace portunus {

#ifdef PORTUNUS_REUSEPORT_OPTION

namespace {

// Closes fd without disturbing errno, for error paths that report errno afterwards.
void CloseKeepingErrno(int fd) {
  int saved = errno;
  close(fd);
  errno = saved;
}

}  // namespace

Napi::Value ListenReusePort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsBoolean())
    return ThrowInvalidArg(env, "listenReusePort(address: string, port: number, backlog: number, ipv6Only: boolean)");
  std::string text = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  int backlog = info[2].As<Napi::Number>().Int32Value();
  bool ipv6Only = info[3].As<Napi::Boolean>().Value();
  if (port < 0 || port > 65535) return ThrowInvalidArg(env, "port must be from 0 to 65535");

  sockaddr_storage address;
  memset(&address, 0, sizeof(address));
  socklen_t length;
  int family;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    family = AF_INET;
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(*v4);
  } else if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(*v6);
  } else {
    return ThrowInvalidArg(env, "address must be a numeric IPv4 or IPv6 address");
  }

  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd == -1) return ThrowSystemError(env, errno, "socket");
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
      setsockopt(fd, SOL_SOCKET, PORTUNUS_REUSEPORT_OPTION, &on, sizeof(on)) == -1 ||
      (family == AF_INET6 && ipv6Only && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)) {
    CloseKeepingErrno(fd);
    return ThrowSystemError(env, errno, "setsockopt");
  }
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

#endif  // PORTUNUS_REUSEPORT_OPTION

#if defined(__linux__) && defined(SO_ATTACH_REUSEPORT_CBPF)

Napi::Value SteerReusePort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArgument(info, 0);
  if (fd < 0) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    return ThrowInvalidArg(env, "members must be an Int32Array");
  Napi::Int32Array members = info[1].As<Napi::Int32Array>();
  size_t count = members.ElementLength();
  // Two instructions per member plus three: the limit of a classic program (BPF_MAXINSNS, 4096) is far off.
  if (count > 1000) return ThrowInvalidArg(env, "at most 1000 members can be steered to");
  std::vector<sock_filter> program;
  if (count == 0) {
    program.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffffffffu));
  } else {
    // A = a random number; A %= count; then a chain of "A == i ? return members[i]".
    program.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_RANDOM)));
    program.push_back(BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, static_cast<uint32_t>(count)));
    for (size_t i = 0; i < count; i++) {
      program.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(i), 0, 1));
      program.push_back(BPF_STMT(BPF_RET | BPF_K, static_cast<uint32_t>(members[i])));
    }
    program.push_back(BPF_STMT(BPF_RET | BPF_K, static_cast<uint32_t>(members[0])));
  }
  sock_fprog fprog;
  fprog.len = static_cast<unsigned short>(program.size());
  fprog.filter = program.data();
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof(fprog)) == -1)
    return ThrowSystemError(env, errno, "setsockopt", fd);
  return env.Undefined();
}

#endif

}  // namespace portunus
