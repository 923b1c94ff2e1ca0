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
  return DefineWatcherClass(env, "Acceptor",
                            {
                                InstanceMethod<&Acceptor::Start>("start"),
                                InstanceMethod<&Acceptor::Stop>("stop"),
                            });
}

Acceptor::Acceptor(const Napi::CallbackInfo& info) : PollWatcher<Acceptor>(info) {
  Napi::Env env = info.Env();
  int fd = FdArgument(info, 0);
  if (fd < 0) return;
  if (info.Length() < 2 || !info[1].IsFunction()) {
    ThrowInvalidArg(env, "new Acceptor(fd, onAccept)");
    return;
  }
  if (!Open(fd, false)) return;
  on_accept_ = Napi::Persistent(info[1].As<Napi::Function>());
}

void Acceptor::ReleaseCallbacks() {
  on_accept_.Reset();
}

Napi::Value Acceptor::Start(const Napi::CallbackInfo& info) {
  if (closed()) return info.Env().Undefined();
  if (info.Length() > 0 && info[0].IsNumber()) {
    int max = info[0].As<Napi::Number>().Int32Value();
    if (max > 0) max_per_tick_ = max;
  }
  if (!watching()) {
    int err = Watch(UV_READABLE);
    if (err != 0) return ThrowSystemError(info.Env(), -err, "uv_poll_start", fd());
  }
  return info.Env().Undefined();
}

Napi::Value Acceptor::Stop(const Napi::CallbackInfo& info) {
  StopWatching();
  return info.Env().Undefined();
}

void Acceptor::StopWatching() {
  if (watching()) Watch(0);
}

void Acceptor::OnPollEvent(int status, int events) {
  if (!watching()) return;
  AcceptBatch(status);
}

void Acceptor::AcceptBatch(int status) {
  std::vector<int32_t> fds;
  int result = status < 0 ? status : 0;
  while (result == 0 && static_cast<int>(fds.size()) < max_per_tick_) {
    int accepted = AcceptOne(fd());
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
    StopWatching();
  }
  if (fds.empty() && result == 0) return;
  Napi::HandleScope scope(env_);
  napi_value argv[2];
  napi_status built = NewInt32ArrayOrUndefined(env_, fds.data(), fds.size(), &argv[0]);
  if (built == napi_ok) built = napi_create_int32(env_, result, &argv[1]);
  Deliver(built, on_accept_, 2, argv, [&fds] {
    for (int fd : fds) close(fd);
  });
}

}  // namespace portunus
