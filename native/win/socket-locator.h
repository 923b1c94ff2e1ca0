// Node on Windows does not say which SOCKET is under a net.Socket or net.Server (its handle's `fd` is -1
// unless the handle was opened on a SOCKET given to it). locateSocket() finds it among this process's
// handles by what only that socket has: its local address and port and, for a connection, its peer's.
#pragma once

#include <napi.h>

#include <cstdint>
#include <functional>

namespace portunus {

// Calls `visit` with each live handle value of this process, in increasing order, until it returns true
// (then returns that handle) or none is left (returns 0).
uintptr_t FindLiveHandle(const std::function<bool(uintptr_t)>& visit);

// locateSocket(localAddress, localPort, remoteAddress | '', remotePort | 0, listening): the SOCKET, or -1.
// The socket stays owned by whoever owns it (Node's handle).
Napi::Value LocateSocket(const Napi::CallbackInfo& info);

// openHandles(): the values of this process's open handles, found by visiting them (GetProcessHandleCount
// alone reports 0 under wine): what the Windows lane's tests compare, as the Unix tests compare
// /proc/self/fd.
Napi::Value OpenHandles(const Napi::CallbackInfo& info);

}  // namespace portunus
