// One datagram to a Unix datagram socket by its address, from a socket made for it and closed again: what
// sd_notify(3) does to tell systemd about a service (NOTIFY_SOCKET). Node core has no AF_UNIX datagram
// socket. Man pages: unix(7), socket(2), sendto(2).
#pragma once

#include <napi.h>

namespace portunus {

// sendDatagram(address: Buffer, data: Buffer). `address` is the socket's name as it goes in sun_path: a
// path's bytes (without a terminating NUL), or, for a Linux abstract name, a leading NUL and the name's
// bytes, given to the kernel with exactly that length. Never waits: the send is MSG_DONTWAIT (EAGAIN when
// the receiver's queue is full), and a datagram socket has no connection to wait for. Throws a SystemError
// (syscall 'socket' or 'sendto'); nothing stays open either way.
Napi::Value SendDatagram(const Napi::CallbackInfo& info);

}  // namespace portunus
