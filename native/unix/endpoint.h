// Endpoint: one connected, non-blocking Unix socket driven by the libuv loop of the JavaScript environment
// that created it (napi_get_uv_event_loop), so it works in the main thread and in worker threads alike.
// It moves bytes plus SCM_RIGHTS descriptors; framing, queues and fd ownership live in JavaScript
// (src/channel). Man pages: sendmsg(2), recvmsg(2), cmsg(3), unix(7).
#pragma once

#include <napi.h>
#include <uv.h>

#include <memory>
#include <vector>

#include "../common/poll-watcher.h"
#include "read-marks.h"

namespace portunus {

// The most descriptors one sendmsg(2) may carry: SCM_MAX_FD is 253 in Linux; musl's headers and some
// BSDs accept one fewer, so everything that is not glibc uses 252.
#if defined(__GLIBC__)
constexpr int kMaxFdsPerMessage = 253;
#else
constexpr int kMaxFdsPerMessage = 252;
#endif
// The receive side takes what any sender may send: a peer built against glibc sends 253, and a control
// buffer one descriptor short would make the kernel truncate (MSG_CTRUNC) every full chunk it sends.
constexpr int kMaxFdsPerRead = kMaxFdsPerMessage < 253 ? 253 : kMaxFdsPerMessage;

class Endpoint : public PollWatcher<Endpoint> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new Endpoint(fd, onRead, onWritable). Takes ownership of fd: close() or environment teardown closes it
  // (if the constructor throws, fd is still the caller's).
  //   onRead(data: Buffer | undefined, marks: Int32Array | undefined, status: number)
  //     data   every byte read in this batch, concatenated;
  //     marks  the descriptors that came with those reads, and the range of `data` each read filled:
  //            layout in read-marks.h;
  //     status 0, 1 for end of stream (after data), or a negative errno (after data).
  //   onWritable() once after awaitWritable(), when the socket accepts data again.
  // close(), ref() and unref() come from PollWatcher.
  explicit Endpoint(const Napi::CallbackInfo& info);

 private:
  friend class PollWatcher<Endpoint>;

  // write(data, offset, length, fds?) -> bytes written (>= 0) or a negative errno (EAGAIN included).
  // Descriptors ride on the first byte written; on a short write they have been sent all the same.
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value ReadStart(const Napi::CallbackInfo& info);
  Napi::Value ReadStop(const Napi::CallbackInfo& info);
  Napi::Value AwaitWritable(const Napi::CallbackInfo& info);

  // PollWatcher's hooks.
  void OnPollEvent(int status, int events);
  void StopWatching();
  void ReleaseCallbacks();

  // A readable event: reads a batch and hands it to onRead.
  void HandleReadable();
  // Reads until the socket is empty, a short read without descriptors, or the per-tick cap (kMaxReadsPerTick
  // reads, kMaxBytesPerTick bytes). Returns onRead's status: 0, 1 at end of stream, or a negative errno.
  int ReadBatch(std::vector<char>* data, ReadMarks* marks);
  void HandleWritable();
  void HandlePollError(int status);
  void DeliverBatch(const std::vector<char>& data, const ReadMarks& marks, int status);
  void UpdatePoll();

  bool reading_ = false;
  bool want_writable_ = false;
  // Receive buffer, allocated on the first read and reused (see ReadBatch).
  std::unique_ptr<char[]> read_chunk_;
  Napi::FunctionReference on_read_;
  Napi::FunctionReference on_writable_;
};

}  // namespace portunus
