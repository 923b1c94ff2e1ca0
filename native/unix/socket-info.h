// What an arbitrary descriptor is: used to check a transport envelope against the fd it arrived with.
#pragma once

#include <napi.h>

namespace portunus {

// describeSocket(fd) -> { kind, family, type, listening, backlog (a listening TCP socket, Linux),
// localAddress, localPort, remoteAddress, remotePort, localPath, remotePath }. kind is 'tcp', 'udp',
// 'unix-stream', 'unix-dgram', 'unix-seqpacket', 'socket' (any other socket), 'fifo', 'file',
// 'character-device' or 'other'.
Napi::Value DescribeSocket(const Napi::CallbackInfo& info);

// socketKind(fd) -> [kind, listening], as describeSocket(fd) reports them: one syscall for a TCP socket on
// Linux, otherwise two to four, and no addresses. For checks that need no more (the envelope of a
// handed-off connection).
Napi::Value SocketKind(const Napi::CallbackInfo& info);

// socketAddresses(fd) -> [localAddress, localPort, remoteAddress, remotePort] of a TCP connection, as
// describeSocket(fd) reports them, from getsockname and getpeername alone: for a connection whose kind is
// known (the dispatcher's route() preview), two syscalls where describeSocket takes six. The remote pair is
// undefined when the peer is gone (ENOTCONN), and both pairs for a socket that is not IP. Throws a
// SystemError (getsockname, getpeername).
Napi::Value SocketAddresses(const Napi::CallbackInfo& info);

}  // namespace portunus
