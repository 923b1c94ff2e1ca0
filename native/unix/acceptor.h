// Acceptor: accepts connections on a listening socket from the libuv loop of the calling environment and
// hands them to JavaScript as raw descriptors, many per callback. This is the dispatcher's hot path: an
// accepted connection never becomes a Node object in the process that dispatches it. Man pages: accept(2),
// accept4(2).
#pragma once

#include <napi.h>
#include <uv.h>

namespace portunus {

class Acceptor : public Napi::ObjectWrap<Acceptor> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new Acceptor(fd, onAccept). Does not own fd: the listening socket stays its creator's to close.
  //   onAccept(fds: Int32Array | undefined, errno: number) — fds accepted in this batch (close-on-exec and
  //   non-blocking), then 0 or the negative errno that stopped the batch (EMFILE, ENFILE, ENOBUFS, ENOMEM
  //   leave the acceptor stopped: JavaScript decides when to start again).
  explicit Acceptor(const Napi::CallbackInfo& info);

 private:
  // start(maxPerTick?): watch for connections; stop(): leave them in the kernel's backlog; close().
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnEnvCleanup(void* arg);
  void AcceptBatch(int status);
  void CloseNow();

  Napi::Env env_;
  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  int max_per_tick_ = 128;
  bool active_ = false;
  bool closed_ = false;
  Napi::FunctionReference on_accept_;
};

}  // namespace portunus
