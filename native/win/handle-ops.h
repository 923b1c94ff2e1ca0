// Operations on the handles the Windows backend gives JavaScript as numbers: SOCKETs (TCP, UDP) and the
// HANDLEs of named pipe connections. Windows keeps handle values within 32 bits (so that 32- and 64-bit
// processes can share them), which is why they travel as int32 like Unix descriptors.
#pragma once

#include <napi.h>
#include <winsock2.h>

#include <string>

namespace portunus {

// True when `handle` is a socket of this process (getsockopt answers for it).
bool IsSocket(SOCKET handle);

// The string SID of the user this process runs as ("S-1-5-21-…"), empty if it cannot be read.
std::wstring CurrentUserSid();

Napi::Value Close(const Napi::CallbackInfo& info);
Napi::Value Dup(const Napi::CallbackInfo& info);
Napi::Value SetInheritable(const Napi::CallbackInfo& info);
Napi::Value PeerCredentials(const Napi::CallbackInfo& info);
Napi::Value DescribeSocket(const Napi::CallbackInfo& info);
Napi::Value SocketKind(const Napi::CallbackInfo& info);
Napi::Value CurrentUser(const Napi::CallbackInfo& info);

// Reads a handle argument (a non-negative int32), or throws and returns INVALID_HANDLE_VALUE.
HANDLE HandleArgument(const Napi::CallbackInfo& info, size_t index);

}  // namespace portunus
