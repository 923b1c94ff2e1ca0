// Builds JavaScript errors shaped like Node's SystemError (code, errno, syscall) from an errno value, so
// that callers can branch on `err.code` exactly as they do for errors from `node:net`.
#pragma once

#include <napi.h>

namespace portunus {

// Returns an Error whose message is "<syscall> <CODE>: <description>", with `code` (e.g. "EPIPE"),
// `errno` (negative, as libuv and Node report it) and `syscall` set. A call made on a descriptor passes it
// as `fd`: the message then names it ("fstat EBADF (fd 999): bad file descriptor") and the error carries it
// as an `fd` property, the way Node's own errors carry the `path` they failed on.
Napi::Error MakeSystemError(Napi::Env env, int err, const char* syscall, int fd = -1);

// Throws MakeSystemError(...) as a pending JavaScript exception and returns undefined.
Napi::Value ThrowSystemError(Napi::Env env, int err, const char* syscall, int fd = -1);

// Throws a TypeError with code ERR_INVALID_ARG_TYPE and returns undefined.
Napi::Value ThrowInvalidArg(Napi::Env env, const char* message);

// Reads a non-negative int32 file descriptor argument, or throws and returns -1.
int FdArgument(const Napi::CallbackInfo& info, size_t index);

}  // namespace portunus
