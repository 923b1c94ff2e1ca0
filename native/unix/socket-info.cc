// Socket introspection. Man pages: fstat(2), getsockopt(2) with SO_TYPE, SO_DOMAIN, SO_PROTOCOL and
// SO_ACCEPTCONN (socket(7)), getsockname(2), getpeername(2), inet_ntop(3), unix(7) for abstract names.
// socketKind is the cheap form for the receiving side of every handoff: no addresses, no object, and on
// Linux one system call for a TCP socket.
#include "socket-info.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <string>

#include "../common/system-error.h"

namespace portunus {

// Adds `<prefix>Address`/`<prefix>Port` (IP) or `<prefix>Path` (Unix) for one socket address.
static void SetAddress(Napi::Env env, Napi::Object out, const char* prefix, const sockaddr_storage& ss, socklen_t len) {
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

// What kind of descriptor fd is, as describeSocket reports it, plus (for sockets) family and listening.
struct Classification {
  const char* kind = "other";
  const char* type_name = "other";
  int family = AF_UNSPEC;
  bool is_socket = false;
  bool listening = false;
};

// Classifies fd with as few syscalls as the platform allows. When `local` is given, the socket's own address
// is read into it (describeSocket needs it anyway, and it gives the family); otherwise the family comes from
// SO_DOMAIN where it exists. Returns 0, or the errno of the failing call with *syscall naming it.
static int Classify(int fd, Classification* out, sockaddr_storage* local, socklen_t* local_len, const char** syscall) {
  int type = 0;
  socklen_t len = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1) {
    // Not a socket (ENOTSOCK), or not a descriptor at all: fstat tells which, and reports a bad fd as it
    // always did.
    int sockopt_err = errno;
    struct stat st;
    if (fstat(fd, &st) == -1) {
      *syscall = "fstat";
      return errno;
    }
    if (S_ISSOCK(st.st_mode)) {
      *syscall = "getsockopt";
      return sockopt_err;
    }
    out->kind = S_ISFIFO(st.st_mode)  ? "fifo"
                : S_ISREG(st.st_mode) ? "file"
                : S_ISCHR(st.st_mode) ? "character-device"
                                      : "other";
    return 0;
  }
  out->is_socket = true;

  sockaddr_storage scratch;
  socklen_t scratch_len = sizeof(scratch);
  bool need_name = local != nullptr;
#ifdef SO_DOMAIN
  if (!need_name) {
    len = sizeof(out->family);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &out->family, &len) == -1) need_name = true;
  }
#else
  need_name = true;
#endif
  if (need_name) {
    if (local == nullptr) {
      local = &scratch;
      local_len = &scratch_len;
    }
    memset(local, 0, sizeof(*local));
    *local_len = sizeof(*local);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(local), local_len) == -1) {
      *syscall = "getsockname";
      return errno;
    }
    out->family = local->ss_family;
  }

  int listening = 0;
  len = sizeof(listening);
#ifdef SO_ACCEPTCONN
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == -1) listening = 0;
#endif
  out->listening = listening != 0;

  out->kind = "socket";
  out->type_name = type == SOCK_STREAM      ? "stream"
                   : type == SOCK_DGRAM     ? "dgram"
                   : type == SOCK_SEQPACKET ? "seqpacket"
                                            : "other";
  if (out->family == AF_INET || out->family == AF_INET6) {
    int protocol = type == SOCK_STREAM ? IPPROTO_TCP : type == SOCK_DGRAM ? IPPROTO_UDP : 0;
#ifdef SO_PROTOCOL
    len = sizeof(protocol);
    if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) == -1) protocol = 0;
#endif
    if (type == SOCK_STREAM && protocol == IPPROTO_TCP) out->kind = "tcp";
    if (type == SOCK_DGRAM && protocol == IPPROTO_UDP) out->kind = "udp";
  } else if (out->family == AF_UNIX) {
    out->kind = type == SOCK_STREAM      ? "unix-stream"
                : type == SOCK_DGRAM     ? "unix-dgram"
                : type == SOCK_SEQPACKET ? "unix-seqpacket"
                                         : "socket";
  }
  return 0;
}

#if defined(__linux__) && defined(TCP_INFO)
// TCP_INFO answers only for TCP sockets (a raw IP socket of protocol 6 does not), and says whether the
// socket listens (tcpi_state) and, for a listener, its accept queue limit (tcpi_sacked; tcpi_unacked is the
// queue's length). One call, where classifying by getsockopt(SOL_SOCKET) takes four.
static bool ReadTcpInfo(int fd, tcp_info* tcp) {
  socklen_t len = sizeof(*tcp);
  memset(tcp, 0, sizeof(*tcp));
  return getsockopt(fd, IPPROTO_TCP, TCP_INFO, tcp, &len) == 0 &&
         len >= offsetof(tcp_info, tcpi_sacked) + sizeof(tcp->tcpi_sacked);
}

// A listening TCP socket's backlog (listen()'s argument capped by somaxconn), or -1.
static int64_t TcpListenBacklog(int fd) {
  tcp_info tcp;
  if (!ReadTcpInfo(fd, &tcp) || tcp.tcpi_state != TCP_LISTEN) return -1;
  return tcp.tcpi_sacked;
}

// Whether fd is a TCP socket, and if so whether it listens: what every handed-off connection is checked for.
// False for anything that is not TCP, which the general path classifies.
static bool IsTcp(int fd, bool* listening) {
  tcp_info tcp;
  if (!ReadTcpInfo(fd, &tcp)) return false;
  *listening = tcp.tcpi_state == TCP_LISTEN;
  return true;
}
#endif

Napi::Value DescribeSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArgument(info, 0);
  if (fd < 0) return env.Undefined();
  Napi::Object out = Napi::Object::New(env);

  Classification what;
  sockaddr_storage local;
  socklen_t local_len = sizeof(local);
  const char* syscall = "";
  int err = Classify(fd, &what, &local, &local_len, &syscall);
  if (err != 0) return ThrowSystemError(env, err, syscall, fd);
  out.Set("kind", Napi::String::New(env, what.kind));
  if (!what.is_socket) return out;

  out.Set("family", Napi::String::New(env, FamilyName(what.family)));
  out.Set("type", Napi::String::New(env, what.type_name));
  out.Set("listening", Napi::Boolean::New(env, what.listening));
#if defined(__linux__) && defined(TCP_INFO)
  if (what.listening && strcmp(what.kind, "tcp") == 0) {
    int64_t backlog = TcpListenBacklog(fd);
    if (backlog >= 0) out.Set("backlog", Napi::Number::New(env, static_cast<double>(backlog)));
  }
#endif
  SetAddress(env, out, "local", local, local_len);

  sockaddr_storage peer;
  socklen_t peer_len = sizeof(peer);
  memset(&peer, 0, sizeof(peer));
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0) {
    SetAddress(env, out, "remote", peer, peer_len);
  } else if (errno != ENOTCONN) {
    return ThrowSystemError(env, errno, "getpeername", fd);
  }
  return out;
}

// Sets out[index] and out[index + 1] to an IP socket address's text and port; leaves them undefined for any
// other family.
static void SetIpAddress(Napi::Env env, Napi::Array out, uint32_t index, const sockaddr_storage& ss) {
  char text[INET6_ADDRSTRLEN];
  if (ss.ss_family == AF_INET) {
    const sockaddr_in* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    out.Set(index, Napi::String::New(env, text));
    out.Set(index + 1, Napi::Number::New(env, ntohs(in->sin_port)));
  } else if (ss.ss_family == AF_INET6) {
    const sockaddr_in6* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    out.Set(index, Napi::String::New(env, text));
    out.Set(index + 1, Napi::Number::New(env, ntohs(in6->sin6_port)));
  }
}

Napi::Value SocketAddresses(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArgument(info, 0);
  if (fd < 0) return env.Undefined();
  sockaddr_storage address;
  socklen_t length = sizeof(address);
  memset(&address, 0, sizeof(address));
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == -1) {
    return ThrowSystemError(env, errno, "getsockname", fd);
  }
  // An array, not an object with named properties: this runs for every routed connection, and four property
  // names made and looked up per call cost more than the two system calls.
  Napi::Array out = Napi::Array::New(env, 4);
  SetIpAddress(env, out, 0, address);
  length = sizeof(address);
  memset(&address, 0, sizeof(address));
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    SetIpAddress(env, out, 2, address);
  } else if (errno != ENOTCONN) {
    return ThrowSystemError(env, errno, "getpeername", fd);
  }
  return out;
}

// The [kind, listening] pair socketKind returns. A pair rather than an object, because this runs for every
// handed-off connection: on Node 20 an object with two named properties built here cost about 0.5 µs more
// per call than a string, an array of two about 0.25 µs.
static Napi::Value KindPair(Napi::Env env, const char* kind, bool listening) {
  Napi::Array pair = Napi::Array::New(env, 2);
  pair.Set(uint32_t(0), Napi::String::New(env, kind));
  pair.Set(uint32_t(1), Napi::Boolean::New(env, listening));
  return pair;
}

Napi::Value SocketKind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArgument(info, 0);
  if (fd < 0) return env.Undefined();
#if defined(__linux__) && defined(TCP_INFO)
  bool listening = false;
  if (IsTcp(fd, &listening)) return KindPair(env, "tcp", listening);
#endif
  Classification what;
  const char* syscall = "";
  int err = Classify(fd, &what, nullptr, nullptr, &syscall);
  if (err != 0) return ThrowSystemError(env, err, syscall, fd);
  return KindPair(env, what.kind, what.listening);
}

}  // namespace portunus
