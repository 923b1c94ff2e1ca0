// Win32 and Winsock errors as Node-shaped SystemErrors. The table covers what the pipe and socket calls of
// this addon return; anything else is EIO with the Windows number kept in `winError`.
#include "win-error.h"

#include <errno.h>

#include <string>

namespace portunus {

namespace {

struct Mapping {
  DWORD windows;
  int posix;
  const char* name;
};

constexpr Mapping kMappings[] = {
    {ERROR_FILE_NOT_FOUND, ENOENT, "ENOENT"},
    {ERROR_PATH_NOT_FOUND, ENOENT, "ENOENT"},
    {ERROR_ACCESS_DENIED, EACCES, "EACCES"},
    {ERROR_INVALID_HANDLE, EBADF, "EBADF"},
    {ERROR_INVALID_PARAMETER, EINVAL, "EINVAL"},
    {ERROR_INVALID_NAME, EINVAL, "EINVAL"},
    {ERROR_PIPE_BUSY, EAGAIN, "EAGAIN"},
    {ERROR_NO_DATA, EPIPE, "EPIPE"},
    {ERROR_BROKEN_PIPE, EPIPE, "EPIPE"},
    {ERROR_PIPE_NOT_CONNECTED, ENOTCONN, "ENOTCONN"},
    {ERROR_OPERATION_ABORTED, ECANCELED, "ECANCELED"},
    {ERROR_NOT_ENOUGH_MEMORY, ENOMEM, "ENOMEM"},
    {ERROR_OUTOFMEMORY, ENOMEM, "ENOMEM"},
    {ERROR_TOO_MANY_OPEN_FILES, EMFILE, "EMFILE"},
    {ERROR_NOT_SUPPORTED, ENOTSUP, "ENOTSUP"},
    {WSAENOTSOCK, ENOTSOCK, "ENOTSOCK"},
    {WSAEBADF, EBADF, "EBADF"},
    {WSAEINVAL, EINVAL, "EINVAL"},
    {WSAEMFILE, EMFILE, "EMFILE"},
    {WSAENOBUFS, ENOBUFS, "ENOBUFS"},
    {WSAECONNRESET, ECONNRESET, "ECONNRESET"},
    {WSAENOTCONN, ENOTCONN, "ENOTCONN"},
    {WSAEADDRINUSE, EADDRINUSE, "EADDRINUSE"},
    {WSAEAFNOSUPPORT, EAFNOSUPPORT, "EAFNOSUPPORT"},
    {WSAEPROTOTYPE, EPROTOTYPE, "EPROTOTYPE"},
    {WSAEWOULDBLOCK, EAGAIN, "EAGAIN"},
};

const Mapping* Find(DWORD error) {
  for (const Mapping& mapping : kMappings)
    if (mapping.windows == error) return &mapping;
  return nullptr;
}

}  // namespace

const char* WinErrorCode(DWORD error) {
  const Mapping* mapping = Find(error);
  return mapping != nullptr ? mapping->name : "EIO";
}

int NegativeErrno(DWORD error) {
  const Mapping* mapping = Find(error);
  return -(mapping != nullptr ? mapping->posix : EIO);
}

Napi::Error MakeWinError(Napi::Env env, DWORD error, const char* syscall) {
  std::string message =
      std::string(syscall) + " " + WinErrorCode(error) + " (Windows error " + std::to_string(error) + ")";
  Napi::Error result = Napi::Error::New(env, message);
  result.Set("code", Napi::String::New(env, WinErrorCode(error)));
  result.Set("errno", Napi::Number::New(env, NegativeErrno(error)));
  result.Set("syscall", Napi::String::New(env, syscall));
  result.Set("winError", Napi::Number::New(env, static_cast<double>(error)));
  return result;
}

Napi::Value ThrowWinError(Napi::Env env, DWORD error, const char* syscall) {
  MakeWinError(env, error, syscall).ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace portunus
