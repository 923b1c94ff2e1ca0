// See poll-handle.h.
#include "poll-handle.h"

#include "system-error.h"

namespace portunus {

uv_poll_t* NewPollHandle(Napi::Env env, int fd, void* data) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    Napi::Error::New(env, "no libuv loop for this environment").ThrowAsJavaScriptException();
    return nullptr;
  }
  uv_poll_t* handle = new uv_poll_t;
  int err = uv_poll_init(loop, handle, fd);
  if (err != 0) {
    delete handle;
    ThrowSystemError(env, -err, "uv_poll_init", fd);
    return nullptr;
  }
  handle->data = data;
  return handle;
}

void ClosePollHandle(uv_poll_t* handle) {
  uv_poll_stop(handle);
  uv_close(reinterpret_cast<uv_handle_t*>(handle),
           [](uv_handle_t* closed) { delete reinterpret_cast<uv_poll_t*>(closed); });
}

}  // namespace portunus
