// Batched, non-blocking accept on a uv_poll_t watcher. Each readable event accepts until EAGAIN or
// max_per_tick connections, whichever comes first, so one callback into JavaScript carries a whole burst
// and the dispatcher can send it in one sendmsg. accept4(SOCK_CLOEXEC | SOCK_NONBLOCK) where available;
// accept + fcntl elsewhere. ECONNABORTED (the peer gave up while queued) and EINTR are skipped, as libuv's
// uv__server_io does.
#ifdef __linux__
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#endif

#include "acceptor.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "../common/js-callback.h"
#include "../common/poll-handle.h"
#include "../common/system-error.h"
#include "fd-ops.h"

namespace portunus {

namespace {

int AcceptOne(int fd) {
#if defined(__linux__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
  return accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
#else
  int accepted = accept(fd, nullptr, nullptr);
  if (accepted == -1) return -1;
  if (SetCloexec(accepted) != 0 || fcntl(accepted, F_SETFL, fcntl(accepted, F_GETFL) | O_NONBLOCK) == -1) {
    int err = errno;
    close(accepted);
    errno = err;
    return -1;
  }
  return accepted;
#endif
}

}  // namespace

Napi::Function Acceptor::Define(Napi::Env env) {
  return DefineClass(env, "Acceptor",
                     {
                         InstanceMethod<&Acceptor::Start>("start"),
                         InstanceMethod<&Acceptor::Stop>("stop"),
                         InstanceMethod<&Acceptor::Close>("close"),
                         InstanceMethod<&Acceptor::Ref>("ref"),
                         InstanceMethod<&Acceptor::Unref>("unref"),
                     });
}

Acceptor::Acceptor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Acceptor>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  int fd = FdArgument(info, 0);
  if (fd < 0) return;
  if (info.Length() < 2 || !info[1].IsFunction()) {
    ThrowInvalidArg(env, "new Acceptor(fd, onAccept)");
    return;
  }
  poll_ = NewPollHandle(env, fd, this);
  if (poll_ == nullptr) return;
  fd_ = fd;
  on_accept_ = Napi::Persistent(info[1].As<Napi::Function>());
  Napi::ObjectWrap<Acceptor>::Ref();
  napi_add_env_cleanup_hook(env, OnEnvCleanup, this);
}

void Acceptor::OnEnvCleanup(void* arg) {
  static_cast<Acceptor*>(arg)->CloseNow();
}

void Acceptor::CloseNow() {
  if (closed_) return;
  closed_ = true;
  active_ = false;
  if (poll_ != nullptr) {
    ClosePollHandle(poll_);
    poll_ = nullptr;
  }
}

Napi::Value Acceptor::Start(const Napi::CallbackInfo& info) {
  if (closed_) return info.Env().Undefined();
  if (info.Length() > 0 && info[0].IsNumber()) {
    int max = info[0].As<Napi::Number>().Int32Value();
    if (max > 0) max_per_tick_ = max;
  }
  if (!active_) {
    int err = uv_poll_start(poll_, UV_READABLE, OnPoll);
    if (err != 0) return ThrowSystemError(info.Env(), -err, "uv_poll_start", fd_);
    active_ = true;
  }
  return info.Env().Undefined();
}

Napi::Value Acceptor::Stop(const Napi::CallbackInfo& info) {
  if (!closed_ && active_) {
    uv_poll_stop(poll_);
    active_ = false;
  }
  return info.Env().Undefined();
}

Napi::Value Acceptor::Close(const Napi::CallbackInfo& info) {
  if (!closed_) {
    napi_remove_env_cleanup_hook(info.Env(), OnEnvCleanup, this);
    CloseNow();
    on_accept_.Reset();
    Napi::ObjectWrap<Acceptor>::Unref();
  }
  return info.Env().Undefined();
}

Napi::Value Acceptor::Ref(const Napi::CallbackInfo& info) {
  if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  return info.Env().Undefined();
}

Napi::Value Acceptor::Unref(const Napi::CallbackInfo& info) {
  if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  return info.Env().Undefined();
}

void Acceptor::OnPoll(uv_poll_t* handle, int status, int events) {
  Acceptor* self = static_cast<Acceptor*>(handle->data);
  if (self == nullptr || self->closed_ || !self->active_) return;
  self->AcceptBatch(status);
}

void Acceptor::AcceptBatch(int status) {
  std::vector<int32_t> fds;
  int result = status < 0 ? status : 0;
  while (result == 0 && static_cast<int>(fds.size()) < max_per_tick_) {
    int accepted = AcceptOne(fd_);
    if (accepted >= 0) {
      fds.push_back(accepted);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    result = -errno;
  }
  if (result < 0) {
    // Out of descriptors or memory: the connection stays queued in the kernel. Stop watching, otherwise the
    // still-readable socket would spin the loop; JavaScript restarts after a pause.
    uv_poll_stop(poll_);
    active_ = false;
  }
  if (fds.empty() && result == 0) return;
  Napi::HandleScope scope(env_);
  napi_value argv[2];
  napi_status js_status = NewInt32ArrayOrUndefined(env_, fds.data(), fds.size(), &argv[0]);
  if (js_status == napi_ok) js_status = napi_create_int32(env_, result, &argv[1]);
  if (js_status == napi_ok && CallBack(env_, Value(), on_accept_, 2, argv)) return;
  // The batch reached no JavaScript: nobody will ever own these connections.
  for (int fd : fds) close(fd);
  if (js_status != napi_ok && !JsUnreachable(env_, js_status)) {
    // Out of memory for the batch: report it like an exception thrown by a callback.
    napi_value exception;
    if (napi_get_and_clear_last_exception(env_, &exception) == napi_ok) napi_fatal_exception(env_, exception);
    return;
  }
  // JavaScript is gone (environment teardown): stop accepting; the cleanup hook releases the watcher.
  if (active_) {
    uv_poll_stop(poll_);
    active_ = false;
  }
}

}  // namespace portunus
