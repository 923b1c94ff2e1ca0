// Listening and connecting on Linux abstract socket names with their exact length. Node (libuv before
// 1.48, so Node 20) binds and connects '\0name' padded with NUL bytes to the whole of sun_path, an address
// no other program uses: Python, Go, socat and systemd give the kernel offsetof(sun_path) + 1 + strlen(name).
// Man pages: unix(7) ("Abstract sockets"), socket(2), bind(2), listen(2), connect(2).
#pragma once

#include <napi.h>
#include <stddef.h>
#include <sys/un.h>

namespace portunus {

// Bytes of sockaddr_un.sun_path: 108 on Linux, 104 on macOS and the BSDs. A path takes all but one (its
// terminating NUL); an abstract name all of them, its leading NUL included.
constexpr size_t kSunPathSize = sizeof(static_cast<sockaddr_un*>(nullptr)->sun_path);

#ifdef __linux__
// listenAbstract(address: Buffer, backlog: number) -> fd. `address` is the name as it goes in sun_path:
// a leading NUL, then the name's bytes (NULs allowed), 2 to kSunPathSize bytes, bound with exactly that
// length. The socket is close-on-exec and non-blocking; on failure nothing stays open and a SystemError
// (syscall 'socket', 'bind' or 'listen') is thrown.
Napi::Value ListenAbstract(const Napi::CallbackInfo& info);

// connectAbstract(address: Buffer) -> fd of a connected, close-on-exec, non-blocking socket. A non-blocking
// connect on a Unix stream socket completes at once or fails at once: with EAGAIN when the listener's
// accept queue is full (nothing to wait for: the socket would poll writable before it could connect),
// ECONNREFUSED when nobody listens. Throws a SystemError (syscall 'socket' or 'connect').
Napi::Value ConnectAbstract(const Napi::CallbackInfo& info);
#endif

}  // namespace portunus
