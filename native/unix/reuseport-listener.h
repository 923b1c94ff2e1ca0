// Listening TCP sockets that share one port as a SO_REUSEPORT group: the kernel spreads new connections over
// the group's members, each with its own accept queue. Node 20's net cannot set SO_REUSEPORT before bind(),
// so the members are made here. Linux uses SO_REUSEPORT (3.9+); FreeBSD its load-balancing SO_REUSEPORT_LB
// (12.0+; its plain SO_REUSEPORT lets the last socket bound take every connection). Elsewhere the calls are
// not exported and src/binding reports the mode as unsupported.
// Man pages: socket(7) (SO_REUSEPORT, SO_ATTACH_REUSEPORT_CBPF), ip(7), ipv6(7), bind(2), listen(2).
#pragma once

#include <napi.h>
#include <sys/socket.h>

#if defined(__linux__) && defined(SO_REUSEPORT)
#define PORTUNUS_REUSEPORT_OPTION SO_REUSEPORT
#elif defined(__FreeBSD__) && defined(SO_REUSEPORT_LB)
#define PORTUNUS_REUSEPORT_OPTION SO_REUSEPORT_LB
#endif

namespace portunus {

#ifdef PORTUNUS_REUSEPORT_OPTION
// listenReusePort(address: string, port: number, backlog: number, ipv6Only: boolean) -> fd. `address` is a
// numeric IPv4 or IPv6 address (the caller resolves host names); its family chooses the socket's. The
// socket has SO_REUSEADDR (as libuv sets on every TCP listener) and the platform's reuseport option, is
// close-on-exec and non-blocking, and listens. On failure nothing stays open and a SystemError (syscall
// 'socket', 'setsockopt', 'bind' or 'listen') is thrown; an address that is not numeric is
// ERR_INVALID_ARG_TYPE.
Napi::Value ListenReusePort(const Napi::CallbackInfo& info);
#endif

#if defined(__linux__) && defined(SO_ATTACH_REUSEPORT_CBPF)
// steerReusePort(fd: number, members: Int32Array) -> undefined. Attaches to the group of the listening
// socket `fd` a classic BPF program that sends each new connection to one of `members` (indices into the
// group, in the order its sockets started listening), picked at random: connections stop going to the
// other members, whose queues are left alone. Empty `members` attaches a program whose answer is out of
// range, which the kernel takes as "choose by hash", as with no program. Throws a SystemError (setsockopt).
Napi::Value SteerReusePort(const Napi::CallbackInfo& info);
#endif

}  // namespace portunus
