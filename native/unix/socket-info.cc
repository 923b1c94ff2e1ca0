// Socket introspection. Man pages: fstat(2), getsockopt(2) with SO_TYPE, SO_DOMAIN, SO_PROTOCOL and
// SO_ACCEPTCONN (socket(7)), getsockname(2), getpeername(2), inet_ntop(3), unix(7) for abstract names.
#include "socket-info.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <string>

#include "../common/system-error.h"

namespace portunus {

// Adds `<prefix>Address`/`<prefix>Port` (IP) or `<prefix>Path` (Unix) for one socket address.
static void SetAddress(Napi::Env env, Napi::Object out, const char* prefix, const sockaddr_storage& ss,
                       socklen_t len) {
  std::string base(prefix);
  if (ss.ss_family == AF_INET) {
    const sockaddr_in* in = reinterpret_cast<const sockaddr_in*>(&ss);
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    out.Set(base + "Address", Napi::String::New(env, text));
    out.Set(base + "Port", Napi::Number::New(env, ntohs(in->sin_port)));
  } else if (ss.ss_family == AF_INET6) {
    const sockaddr_in6* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    out.Set(base + "Address", Napi::String::New(env, text));
    out.Set(base + "Port", Napi::Number::New(env, ntohs(in6->sin6_port)));
  } else if (ss.ss_family == AF_UNIX) {
    const sockaddr_un* un = reinterpret_cast<const sockaddr_un*>(&ss);
    size_t offset = offsetof(sockaddr_un, sun_path);
    size_t path_len = len > offset ? len - offset : 0;
    if (path_len > sizeof(un->sun_path)) path_len = sizeof(un->sun_path);
    // A pathname address may carry its terminating NUL in the length; an abstract one (leading NUL)
    // uses every byte it has, NULs included, exactly as Node's server.address() reports it.
    if (path_len > 0 && un->sun_path[0] != '\0') path_len = strnlen(un->sun_path, path_len);
    out.Set(base + "Path", Napi::String::New(env, un->sun_path, path_len));
  }
}

static const char* FamilyName(int family) {
  switch (family) {
    case AF_INET: return "IPv4";
    case AF_INET6: return "IPv6";
    case AF_UNIX: return "unix";
    default: return "other";
  }
}

Napi::Value DescribeSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArgument(info, 0);
  if (fd < 0) return env.Undefined();
  Napi::Object out = Napi::Object::New(env);

  struct stat st;
  if (fstat(fd, &st) == -1) return ThrowSystemError(env, errno, "fstat");
  if (!S_ISSOCK(st.st_mode)) {
    const char* kind = S_ISFIFO(st.st_mode) ? "fifo"
                       : S_ISREG(st.st_mode) ? "file"
                       : S_ISCHR(st.st_mode) ? "character-device"
                                             : "other";
    out.Set("kind", Napi::String::New(env, kind));
    return out;
  }

  int type = 0;
  socklen_t len = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1) return ThrowSystemError(env, errno, "getsockopt");

  sockaddr_storage local;
  socklen_t local_len = sizeof(local);
  memset(&local, 0, sizeof(local));
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == -1) {
    return ThrowSystemError(env, errno, "getsockname");
  }
  int family = local.ss_family;

  int listening = 0;
  len = sizeof(listening);
#ifdef SO_ACCEPTCONN
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == -1) listening = 0;
#endif

  const char* kind = "socket";
  const char* type_name = type == SOCK_STREAM ? "stream"
                          : type == SOCK_DGRAM ? "dgram"
                          : type == SOCK_SEQPACKET ? "seqpacket"
                                                   : "other";
  if (family == AF_INET || family == AF_INET6) {
    int protocol = type == SOCK_STREAM ? IPPROTO_TCP : type == SOCK_DGRAM ? IPPROTO_UDP : 0;
#ifdef SO_PROTOCOL
    len = sizeof(protocol);
    if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) == -1) protocol = 0;
#endif
    if (type == SOCK_STREAM && protocol == IPPROTO_TCP) kind = "tcp";
    if (type == SOCK_DGRAM && protocol == IPPROTO_UDP) kind = "udp";
  } else if (family == AF_UNIX) {
    kind = type == SOCK_STREAM ? "unix-stream" : type == SOCK_DGRAM ? "unix-dgram" : type == SOCK_SEQPACKET ? "unix-seqpacket" : "socket";
  }

  out.Set("kind", Napi::String::New(env, kind));
  out.Set("family", Napi::String::New(env, FamilyName(family)));
  out.Set("type", Napi::String::New(env, type_name));
  out.Set("listening", Napi::Boolean::New(env, listening != 0));
  SetAddress(env, out, "local", local, local_len);

  sockaddr_storage peer;
  socklen_t peer_len = sizeof(peer);
  memset(&peer, 0, sizeof(peer));
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0) {
    SetAddress(env, out, "remote", peer, peer_len);
  } else if (errno != ENOTCONN) {
    return ThrowSystemError(env, errno, "getpeername");
  }
  return out;
}

}  // namespace portunus
