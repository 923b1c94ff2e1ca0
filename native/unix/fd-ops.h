// Small descriptor operations the channel needs that Node does not expose: socketpair(2), dup with
// CLOEXEC (fcntl(2) F_DUPFD_CLOEXEC) and close(2).
#pragma once

#include <napi.h>

namespace portunus {

// socketpair('stream' | 'seqpacket' | 'dgram') -> [fd, fd], both CLOEXEC and non-blocking.
Napi::Value SocketPair(const Napi::CallbackInfo& info);
// dup(fd) -> new fd with FD_CLOEXEC set.
Napi::Value Dup(const Napi::CallbackInfo& info);
// close(fd). EINTR is not retried: on Linux the descriptor is released even when close reports EINTR.
Napi::Value Close(const Napi::CallbackInfo& info);
// setInheritable(fd, bool): clears or sets FD_CLOEXEC (used before handing an fd to a spawned child).
Napi::Value SetInheritable(const Napi::CallbackInfo& info);

// Sets FD_CLOEXEC on fd; returns 0 or an errno value.
int SetCloexec(int fd);

}  // namespace portunus
