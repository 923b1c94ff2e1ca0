// Builds JavaScript errors shaped like Node's SystemError (code, errno, syscall) from an errno value, so
// that callers can branch on `err.code` exactly as they do for errors from `node:net`.
#pragma once

#include <napi.h>

namespace portunus {

// Returns an Error whose message is "<syscall> <CODE>: <description>", with `code` (e.g. "EPIPE"),
// `errno` (negative, as libuv and Node report it) and `syscall` set.
Napi::Error MakeSystemError(Napi::Env env, int err, const char* syscall);

// Throws MakeSystemError(...) as a pending JavaScript exception and returns undefined.
Napi::Value ThrowSystemError(Napi::Env env, int err, const char* syscall);

// Throws a TypeError with code ERR_INVALID_ARG_TYPE and returns undefined.
Napi::Value ThrowInvalidArg(Napi::Env env, const char* message);

// Reads a non-negative int32 file descriptor argument, or throws and returns -1.
int FdArgument(const Napi::CallbackInfo& info, size_t index);

}  // namespace portunus
