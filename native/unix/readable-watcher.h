// ReadableWatcher: tells JavaScript when one connected socket it does not own has something to read, without
// reading it. The dispatcher's route() preview looks at a connection's first bytes with peek (peek.h) and
// waits with this watcher for more: the bytes stay in the kernel, and the process that adopts the connection
// reads them itself. The poll is level-triggered and peeked bytes stay queued, so a caller that has looked at
// N bytes and wants more sets SO_RCVLOWAT to N + 1 first (setReceiveLowWater, peek.h), or every loop turn
// would report the same bytes again. Man pages: poll(2), socket(7) (SO_RCVLOWAT).
#pragma once

#include <napi.h>
#include <uv.h>

#include "../common/poll-watcher.h"

namespace portunus {

class ReadableWatcher : public PollWatcher<ReadableWatcher> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new ReadableWatcher(fd, onReadable). Does not own fd: it stays the caller's to close, after close() (the
  // poll is removed from the loop's epoll set then, so the descriptor may be handed to another process).
  //   onReadable(status: number, ended: boolean) — status 0, or a negative errno from the poll (the watcher
  //   has stopped then; a connection reset shows as EBADF here: peek reports the real error); ended is true
  //   once the peer has shut down its sending side (EPOLLRDHUP), bytes may still be queued before it.
  // close(), ref() and unref() come from PollWatcher.
  explicit ReadableWatcher(const Napi::CallbackInfo& info);

 private:
  friend class PollWatcher<ReadableWatcher>;

  // start(): watch (level-triggered, until stop() or close()); stop(): stop watching.
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);

  // PollWatcher's hooks.
  void OnPollEvent(int status, int events);
  void StopWatching();
  void ReleaseCallbacks();

  Napi::FunctionReference on_readable_;
};

}  // namespace portunus
