// Errors of the Windows build: Win32 and Winsock error numbers turned into the POSIX names Node reports
// (`code`), so that JavaScript branches on the same codes on every platform.
#pragma once

#include <napi.h>
#include <winsock2.h>  // before anything that includes windows.h; it includes windows.h itself

namespace portunus {

// The POSIX name for a Win32 or Winsock error ("ENOENT", "EAGAIN", …), "EIO" when there is none closer.
const char* WinErrorCode(DWORD error);

// The negative C runtime errno for a Win32 or Winsock error: the values os.constants.errno has on Windows,
// which the endpoint's write() and read statuses report (JavaScript compares them with -EAGAIN, -EPIPE…).
int NegativeErrno(DWORD error);

// An Error with code (the POSIX name), errno (negative), syscall and winError (the Windows number), thrown
// as a pending JavaScript exception; returns undefined.
Napi::Value ThrowWinError(Napi::Env env, DWORD error, const char* syscall);

// The same Error, for a caller that delivers it instead of throwing it.
Napi::Error MakeWinError(Napi::Env env, DWORD error, const char* syscall);

}  // namespace portunus
