// Error construction shared by every native entry point. errno names come from libuv (uv_err_name), which
// is the same table Node uses, so `code` values match what `node:net` reports for the same failure.
#include "system-error.h"

#include <uv.h>

#include <string>

namespace portunus {

Napi::Error MakeSystemError(Napi::Env env, int err, const char* syscall, int fd) {
  const char* code = uv_err_name(-err);
  std::string message = std::string(syscall) + " " + code;
  if (fd >= 0) message += " (fd " + std::to_string(fd) + ")";
  message += std::string(": ") + uv_strerror(-err);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (fd >= 0) error.Set("fd", Napi::Number::New(env, fd));
  return error;
}

Napi::Value ThrowSystemError(Napi::Env env, int err, const char* syscall, int fd) {
  MakeSystemError(env, err, syscall, fd).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowInvalidArg(Napi::Env env, const char* message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

int FdArgument(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    ThrowInvalidArg(info.Env(), "file descriptor must be a number");
    return -1;
  }
  int32_t fd = info[index].As<Napi::Number>().Int32Value();
  if (fd < 0) {
    ThrowInvalidArg(info.Env(), "file descriptor must be a non-negative integer");
    return -1;
  }
  return fd;
}

}  // namespace portunus
