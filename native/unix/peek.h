// Looking at what a connected socket has queued without reading it, and reading exactly as much as was
// looked at: the dispatcher's route() preview leaves a connection's first bytes in the kernel for the
// process that adopts it, and consumes only a PROXY protocol header. Man pages: recv(2), socket(7)
// (SO_RCVLOWAT), tcp(7).
#pragma once

#include <napi.h>

namespace portunus {

// peek(fd, into, maxBytes) -> number: copies up to maxBytes of the bytes queued on fd into the Buffer `into`
// (at least maxBytes long); they stay queued (recv with MSG_PEEK | MSG_DONTWAIT). Returns how many, 0 at end
// of stream, or a negative errno (EAGAIN: nothing queued yet; ECONNRESET…). Never waits. The caller copies
// out what it keeps: one Buffer serves every peek.
Napi::Value Peek(const Napi::CallbackInfo& info);

// discard(fd, length) -> number: reads and drops up to `length` queued bytes (bytes peeked before, so that
// they are there), never waiting; returns how many, or a negative errno if none could be read.
Napi::Value Discard(const Napi::CallbackInfo& info);

// setReceiveLowWater(fd, bytes) -> number: SO_RCVLOWAT, 0 or a negative errno. Linux's tcp_poll honours it
// (a FIN or an error still wakes the poll); Unix sockets' poll does not.
Napi::Value SetReceiveLowWater(const Napi::CallbackInfo& info);

#ifdef __linux__
// deferAccept(fd, seconds) -> number: TCP_DEFER_ACCEPT on a listening TCP socket, 0 or a negative errno. The
// kernel completes a connection's accept only once its first bytes have arrived (or, for a client that sends
// nothing, once `seconds` have passed): a client-speaks-first protocol's preview is then there at accept.
// Linux only (FreeBSD's accept filters are another API).
Napi::Value DeferAccept(const Napi::CallbackInfo& info);
#endif

}  // namespace portunus
