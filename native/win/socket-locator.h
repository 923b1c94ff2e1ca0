// Node on Windows does not say which SOCKET is under a net.Socket or net.Server (its handle's `fd` is -1
// unless the handle was opened on a SOCKET given to it). locateSocket() finds it among this process's
// handles by what only that socket has: its local address and port and, for a connection, its peer's.
#pragma once

#include <napi.h>

namespace portunus {

// locateSocket(localAddress, localPort, remoteAddress | '', remotePort | 0, listening): the SOCKET, or -1.
// The socket stays owned by whoever owns it (Node's handle).
Napi::Value LocateSocket(const Napi::CallbackInfo& info);

}  // namespace portunus
