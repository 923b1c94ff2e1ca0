// Acceptor: accepts connections on a listening socket from the libuv loop of the calling environment and
// hands them to JavaScript as raw descriptors, many per callback. This is the dispatcher's hot path: an
// accepted connection never becomes a Node object in the process that dispatches it. Man pages: accept(2),
// accept4(2).
#pragma once

#include <napi.h>
#include <uv.h>

#include "../common/poll-watcher.h"

namespace portunus {

class Acceptor : public PollWatcher<Acceptor> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new Acceptor(fd, onAccept). Does not own fd: the listening socket stays its creator's to close.
  //   onAccept(fds: Int32Array | undefined, errno: number) — fds accepted in this batch (close-on-exec and
  //   non-blocking), then 0 or the negative errno that stopped the batch (EMFILE, ENFILE, ENOBUFS, ENOMEM
  //   leave the acceptor stopped: JavaScript decides when to start again).
  // close(), ref() and unref() come from PollWatcher.
  explicit Acceptor(const Napi::CallbackInfo& info);

 private:
  friend class PollWatcher<Acceptor>;

  // start(maxPerTick?): watch for connections; stop(): leave them in the kernel's backlog.
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);

  // PollWatcher's hooks.
  void OnPollEvent(int status, int events);
  void StopWatching();
  void ReleaseCallbacks();

  void AcceptBatch(int status);

  int max_per_tick_ = 128;
  Napi::FunctionReference on_accept_;
};

}  // namespace portunus
