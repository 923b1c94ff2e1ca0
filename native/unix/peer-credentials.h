// Who is on the other end of a Unix socket. Man pages: unix(7) SO_PEERCRED (Linux), getpeereid(3) and
// LOCAL_PEERPID (macOS, BSD).
#pragma once

#include <napi.h>

namespace portunus {

// peerCredentials(fd) -> { pid, uid, gid }. pid is -1 where the platform does not report it. The values
// are those of the process that called connect(2) (or socketpair(2)), fixed at that moment: a later
// exec or fd inheritance does not change them.
Napi::Value PeerCredentials(const Napi::CallbackInfo& info);

}  // namespace portunus
