// Calling JavaScript back from a libuv callback, safely during environment teardown. When a worker thread
// is terminated (or the process exits), Node runs the loop once more to close its handles before the
// cleanup hooks that close ours, so a poll watcher can still fire while JavaScript can no longer run.
// N-API calls that need JavaScript then fail with no exception pending; node-addon-api would turn such a
// failure into a fatal error (napi_throw fails too), so these helpers use the C API and report it instead.
#pragma once

#include <node_api.h>
#include <stdint.h>
#include <string.h>

namespace portunus {

// True when `status` failed because this environment cannot run JavaScript any more, rather than
// because of an exception that is now pending.
inline bool JsUnreachable(napi_env env, napi_status status) {
  if (status == napi_ok) return false;
  bool pending = false;
  return napi_is_exception_pending(env, &pending) != napi_ok || !pending;
}

// A Buffer holding a copy of `length` bytes, or undefined when `length` is 0.
inline napi_status NewBufferOrUndefined(napi_env env, const char* data, size_t length, napi_value* result) {
  if (length == 0) return napi_get_undefined(env, result);
  return napi_create_buffer_copy(env, length, data, nullptr, result);
}

// An Int32Array holding a copy of `count` values, or undefined when `count` is 0.
inline napi_status NewInt32ArrayOrUndefined(napi_env env, const int32_t* values, size_t count, napi_value* result) {
  if (count == 0) return napi_get_undefined(env, result);
  void* bytes = nullptr;
  napi_value buffer;
  napi_status status = napi_create_arraybuffer(env, count * sizeof(int32_t), &bytes, &buffer);
  if (status != napi_ok) return status;
  memcpy(bytes, values, count * sizeof(int32_t));
  return napi_create_typedarray(env, napi_int32_array, count, buffer, 0, result);
}

// Reports the exception pending in env as Node reports one thrown by a callback: to 'uncaughtException'.
inline void RaisePendingException(napi_env env) {
  napi_value exception;
  if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
}

// Calls `callback` (a napi_ref to a function) on `receiver` like node::MakeCallback. An exception it
// throws goes to 'uncaughtException', as for any callback from Node. Returns false, having called nothing,
// when JavaScript cannot run any more.
inline bool CallBack(napi_env env, napi_value receiver, napi_ref callback, size_t argc, const napi_value* argv) {
  napi_value function;
  napi_status status = napi_get_reference_value(env, callback, &function);
  if (status == napi_ok) {
    napi_value result;
    status = napi_make_callback(env, nullptr, receiver, function, argc, argv, &result);
  }
  if (status == napi_ok) return true;
  if (JsUnreachable(env, status)) return false;
  RaisePendingException(env);
  return true;
}

}  // namespace portunus
