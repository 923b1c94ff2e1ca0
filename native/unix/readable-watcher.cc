// See readable-watcher.h. A uv_poll_t for UV_READABLE | UV_DISCONNECT on a descriptor it does not own.
#include "readable-watcher.h"

#include "../common/js-callback.h"
#include "../common/system-error.h"

namespace portunus {

Napi::Function ReadableWatcher::Define(Napi::Env env) {
  return DefineWatcherClass(env, "ReadableWatcher",
                            {
                                InstanceMethod<&ReadableWatcher::Start>("start"),
                                InstanceMethod<&ReadableWatcher::Stop>("stop"),
                            });
}

ReadableWatcher::ReadableWatcher(const Napi::CallbackInfo& info) : PollWatcher<ReadableWatcher>(info) {
  int fd = FdArgument(info, 0);
  if (fd < 0) return;
  if (info.Length() < 2 || !info[1].IsFunction()) {
    ThrowInvalidArg(info.Env(), "new ReadableWatcher(fd, onReadable)");
    return;
  }
  if (!Open(fd, false)) return;
  on_readable_ = Napi::Persistent(info[1].As<Napi::Function>());
}

void ReadableWatcher::ReleaseCallbacks() {
  on_readable_.Reset();
}

Napi::Value ReadableWatcher::Start(const Napi::CallbackInfo& info) {
  if (closed() || watching()) return info.Env().Undefined();
  int err = Watch(UV_READABLE | UV_DISCONNECT);
  if (err != 0) return ThrowSystemError(info.Env(), -err, "uv_poll_start", fd());
  return info.Env().Undefined();
}

Napi::Value ReadableWatcher::Stop(const Napi::CallbackInfo& info) {
  StopWatching();
  return info.Env().Undefined();
}

void ReadableWatcher::StopWatching() {
  if (watching()) Watch(0);
}

void ReadableWatcher::OnPollEvent(int status, int events) {
  if (!watching()) return;
  // libuv stops the handle itself on an error (POLLERR comes as UV_EBADF): say so, so that start() re-arms.
  if (status < 0) StopWatching();
  Napi::HandleScope scope(env_);
  napi_value argv[2];
  napi_status built = napi_create_int32(env_, status, &argv[0]);
  if (built == napi_ok) built = napi_get_boolean(env_, status == 0 && (events & UV_DISCONNECT) != 0, &argv[1]);
  Deliver(built, on_readable_, 2, argv, [] {});
}

}  // namespace portunus
