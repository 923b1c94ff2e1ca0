// PollWatcher: the lifecycle that Endpoint and Acceptor share. Each is a JavaScript object around one
// descriptor watched by a uv_poll_t (poll-handle.h) on the loop of the environment that created it. While
// it is open, the object pins its JavaScript wrapper, so that garbage collection cannot free what libuv still
// calls back, and registers an environment cleanup hook, so that the teardown of a worker thread closes what
// JavaScript did not; close() undoes both and drops the JavaScript callbacks. The class that derives from it
// is a template argument (CRTP) rather than a virtual override: the poll callback reaches it with a direct
// call. Man pages: none; see libuv's uv_poll_t and Node-API's napi_add_env_cleanup_hook documentation.
#pragma once

#include <napi.h>
#include <unistd.h>
#include <uv.h>

#include <vector>

#include "js-callback.h"
#include "poll-handle.h"

namespace portunus {

// Self provides, to its base only (friend class PollWatcher<Self>):
//   void OnPollEvent(int status, int events)  what uv_poll_cb reports, while the watcher is open;
//   void StopWatching()                        stop for good: JavaScript can no longer be called;
//   void ReleaseCallbacks()                    drop its Napi::FunctionReferences (close()).
template <typename Self>
class PollWatcher : public Napi::ObjectWrap<Self> {
 protected:
  explicit PollWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Self>(info), env_(info.Env()) {}

  ~PollWatcher() override {
    // Should an open watcher ever be finalized, its descriptor is still closed. It cannot be as things are:
    // the wrapper stays pinned until close() or the cleanup hook, and both close the descriptor first.
    if (!closed_ && owns_fd_ && fd_ >= 0) close(fd_);
  }

  // The JavaScript class of Self: `methods`, plus close(), ref() and unref(). Those three are registered by
  // runtime pointer: GCC refuses a base-class member converted to Self's as a template argument.
  static Napi::Function DefineWatcherClass(Napi::Env env, const char* name,
                                           std::vector<Napi::ClassPropertyDescriptor<Self>> methods) {
    using Wrap = Napi::ObjectWrap<Self>;
    using Method = Napi::Value (Self::*)(const Napi::CallbackInfo&);
    methods.push_back(Wrap::InstanceMethod("close", static_cast<Method>(&PollWatcher::Close)));
    methods.push_back(Wrap::InstanceMethod("ref", static_cast<Method>(&PollWatcher::Ref)));
    methods.push_back(Wrap::InstanceMethod("unref", static_cast<Method>(&PollWatcher::Unref)));
    return Wrap::DefineClass(env, name, methods);
  }

  // Creates the poll handle on fd (which becomes non-blocking), pins the wrapper and registers the cleanup
  // hook. With owns_fd, close() and teardown close fd too. Returns false with a JavaScript exception pending
  // and fd untouched (still the caller's) when there is no handle.
  bool Open(int fd, bool owns_fd) {
    poll_ = NewPollHandle(env_, fd, static_cast<Self*>(this));
    if (poll_ == nullptr) return false;
    fd_ = fd;
    owns_fd_ = owns_fd;
    Napi::ObjectWrap<Self>::Ref();
    napi_add_env_cleanup_hook(env_, OnEnvCleanup, this);
    return true;
  }

  // Watches for `events` (UV_READABLE, UV_WRITABLE, UV_DISCONNECT), or stops watching when it is 0.
  // Returns 0 or uv_poll_start's error; does nothing once closed.
  int Watch(int events) {
    if (closed_ || poll_ == nullptr) return 0;
    events_ = 0;
    if (events == 0) return uv_poll_stop(poll_);
    int err = uv_poll_start(poll_, events, OnPoll);
    if (err == 0) events_ = events;
    return err;
  }

  // Hands a batch to a JavaScript callback: `argv`, built with status `built` (napi_ok unless building it
  // failed). When the batch reaches no JavaScript, nobody will ever own what it carried: `release` runs and
  // then either the failure to build it (out of memory) is reported like an exception thrown by a callback,
  // or, JavaScript being gone (environment teardown), the watcher stops and the cleanup hook does the rest.
  template <typename Release>
  void Deliver(napi_status built, napi_ref callback, size_t argc, const napi_value* argv, const Release& release) {
    if (built == napi_ok && CallBack(env_, this->Value(), callback, argc, argv)) return;
    release();
    if (built != napi_ok && !JsUnreachable(env_, built)) {
      RaisePendingException(env_);
      return;
    }
    static_cast<Self*>(this)->StopWatching();
  }

  int fd() const {
    return fd_;
  }
  bool closed() const {
    return closed_;
  }
  // Whether the last Watch() asked for events (libuv may since have stopped the handle on an error).
  bool watching() const {
    return events_ != 0;
  }

  Napi::Env env_;

 private:
  // close(): idempotent. ref(), unref(): whether the watcher keeps the loop alive.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!closed_) {
      napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
      CloseNow();
      static_cast<Self*>(this)->ReleaseCallbacks();
      Napi::ObjectWrap<Self>::Unref();
    }
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    Self* self = static_cast<Self*>(handle->data);
    if (self == nullptr || self->closed()) return;
    self->OnPollEvent(status, events);
  }

  static void OnEnvCleanup(void* arg) {
    static_cast<PollWatcher*>(arg)->CloseNow();
  }

  // Stops and releases the poll handle (libuv frees it later, in its close callback), then closes the
  // descriptor if it is ours: in that order, so that the descriptor is never closed while still polled.
  void CloseNow() {
    if (closed_) return;
    closed_ = true;
    events_ = 0;
    if (poll_ != nullptr) {
      ClosePollHandle(poll_);
      poll_ = nullptr;
    }
    if (owns_fd_ && fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

  int fd_ = -1;
  bool owns_fd_ = false;
  uv_poll_t* poll_ = nullptr;
  int events_ = 0;
  bool closed_ = false;
};

}  // namespace portunus
