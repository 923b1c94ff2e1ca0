// Non-blocking sendmsg/recvmsg with SCM_RIGHTS on a uv_poll_t watcher.
//
// Receive side, following libuv's uv__read (src/unix/stream.c): the control buffer is sized with
// CMSG_SPACE for the most descriptors a peer may send in one message (plus room for credentials a socket
// with SO_PASSCRED receives unasked), every received descriptor gets
// close-on-exec atomically (MSG_CMSG_CLOEXEC) or right after (fcntl, checked), control messages are walked
// with CMSG_FIRSTHDR/CMSG_NXTHDR (which bound the walk by msg_controllen, not by a cmsg_len that macOS
// may report larger than what arrived), and when the kernel sets MSG_CTRUNC every descriptor that did
// arrive is closed and the read is marked truncated. A readable event drains until EAGAIN (or a short read
// without descriptors) but yields after kMaxReadsPerTick reads so one busy peer cannot starve the loop.
//
// Send side: MSG_NOSIGNAL (SO_NOSIGPIPE where that flag does not exist) so a dead peer is EPIPE, not a
// signal; EINTR is retried; EAGAIN and every other errno go back to JavaScript, which queues and asks for
// a writability callback.
#ifdef __linux__
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#endif

#include "endpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../common/js-callback.h"
#include "../common/system-error.h"
#include "fd-ops.h"

namespace portunus {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
// Room in the receive control buffer for ancillary data that comes without being asked for. A socket handed
// to us with SO_PASSCRED set (systemd's PassCredentials=, a peer that set it before passing the socket) gets
// SCM_CREDENTIALS with every read, placed before SCM_RIGHTS: without this room a full chunk of descriptors
// would not fit and the kernel would truncate it (MSG_CTRUNC). 256 bytes also hold BSD's struct cmsgcred.
constexpr size_t kOtherControlSpace = CMSG_SPACE(256);
constexpr int kMaxReadsPerTick = 64;
constexpr size_t kMaxBytesPerTick = 1024 * 1024;

#ifdef MSG_CMSG_CLOEXEC
constexpr int kRecvFlags = MSG_CMSG_CLOEXEC;
#else
constexpr int kRecvFlags = 0;
#endif

#ifdef MSG_NOSIGNAL
constexpr int kSendFlags = MSG_NOSIGNAL;
#else
constexpr int kSendFlags = 0;
#endif

// What one recvmsg(2) fills besides the data chunk, reused for every read of a batch.
struct Reception {
  iovec iov;
  msghdr msg;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerRead) + kOtherControlSpace];
};

// Receives one message: up to kReadChunk bytes into `chunk`, its control data into r->control; EINTR is
// retried. Returns recvmsg's result (the byte count, 0 at end of stream, or -1 with errno set), after which
// r->msg describes what arrived.
ssize_t ReceiveOne(int fd, char* chunk, Reception* r) {
  r->iov.iov_base = chunk;
  r->iov.iov_len = kReadChunk;
  memset(&r->msg, 0, sizeof(r->msg));
  r->msg.msg_iov = &r->iov;
  r->msg.msg_iovlen = 1;
  r->msg.msg_control = r->control;
  r->msg.msg_controllen = sizeof(r->control);
  ssize_t n;
  do {
    n = recvmsg(fd, &r->msg, kRecvFlags);
  } while (n == -1 && errno == EINTR);
  return n;
}

// Records the descriptors that came with one read, whose bytes are at `offset` in the batch's data. When the
// kernel discarded some of them (MSG_CTRUNC: control buffer too small, or RLIMIT_NOFILE reached), those that
// arrived cannot be matched to what the sender meant; when one could not be made close-on-exec, it could leak
// into any child spawned later. Either way none is handed out: all are closed and the read marked truncated.
void RecordDescriptors(msghdr* msg, size_t offset, size_t length, ReadMarks* marks) {
  bool truncated = (msg->msg_flags & MSG_CTRUNC) != 0;
  bool cloexec_failed = false;
  marks->BeginRead(offset, length);
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(msg, cmsg)) {
    // Other ancillary data (SCM_CREDENTIALS, for instance) carries no descriptors and is skipped.
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
      if (!truncated && kRecvFlags == 0 && SetCloexec(fd) != 0) cloexec_failed = true;
      marks->AddFd(fd);
    }
  }
  if (truncated || cloexec_failed) marks->TruncateRead();
}

}  // namespace

Napi::Function Endpoint::Define(Napi::Env env) {
  return DefineWatcherClass(env, "Endpoint",
                            {
                                InstanceMethod<&Endpoint::Write>("write"),
                                InstanceMethod<&Endpoint::ReadStart>("readStart"),
                                InstanceMethod<&Endpoint::ReadStop>("readStop"),
                                InstanceMethod<&Endpoint::AwaitWritable>("awaitWritable"),
                            });
}

Endpoint::Endpoint(const Napi::CallbackInfo& info) : PollWatcher<Endpoint>(info) {
  Napi::Env env = info.Env();
  int fd = FdArgument(info, 0);
  if (fd < 0) return;
  if (info.Length() < 3 || !info[1].IsFunction() || !info[2].IsFunction()) {
    ThrowInvalidArg(env, "new Endpoint(fd, onRead, onWritable)");
    return;
  }
#if !defined(MSG_NOSIGNAL) && defined(SO_NOSIGPIPE)
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
  if (!Open(fd, true)) return;
  on_read_ = Napi::Persistent(info[1].As<Napi::Function>());
  on_writable_ = Napi::Persistent(info[2].As<Napi::Function>());
}

void Endpoint::ReleaseCallbacks() {
  on_read_.Reset();
  on_writable_.Reset();
}

void Endpoint::UpdatePoll() {
  Watch((reading_ ? UV_READABLE | UV_DISCONNECT : 0) | (want_writable_ ? UV_WRITABLE : 0));
}

Napi::Value Endpoint::ReadStart(const Napi::CallbackInfo& info) {
  reading_ = true;
  UpdatePoll();
  return info.Env().Undefined();
}

Napi::Value Endpoint::ReadStop(const Napi::CallbackInfo& info) {
  reading_ = false;
  UpdatePoll();
  return info.Env().Undefined();
}

Napi::Value Endpoint::AwaitWritable(const Napi::CallbackInfo& info) {
  want_writable_ = true;
  UpdatePoll();
  return info.Env().Undefined();
}

Napi::Value Endpoint::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed()) return Napi::Number::New(env, -EBADF);
  if (info.Length() < 3 || !info[0].IsBuffer() || !info[1].IsNumber() || !info[2].IsNumber()) {
    return ThrowInvalidArg(env, "write(data: Buffer, offset: number, length: number, fds?: Int32Array)");
  }
  Napi::Buffer<char> data = info[0].As<Napi::Buffer<char>>();
  size_t offset = info[1].As<Napi::Number>().Uint32Value();
  size_t length = info[2].As<Napi::Number>().Uint32Value();
  if (offset > data.Length() || length > data.Length() - offset || length == 0) {
    // A stream socket drops descriptors sent with zero bytes of data, so an empty write is refused.
    return ThrowInvalidArg(env, "write range must be non-empty and inside the buffer");
  }

  iovec iov;
  iov.iov_base = data.Data() + offset;
  iov.iov_len = length;
  msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;

  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  if (info.Length() > 3 && info[3].IsTypedArray()) {
    Napi::Int32Array fds = info[3].As<Napi::Int32Array>();
    size_t count = fds.ElementLength();
    if (count > static_cast<size_t>(kMaxFdsPerMessage)) {
      return ThrowInvalidArg(env, "too many descriptors for one sendmsg");
    }
    if (count > 0) {
      memset(control, 0, CMSG_SPACE(sizeof(int) * count));
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
      cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN(sizeof(int) * count);
      memcpy(CMSG_DATA(cmsg), fds.Data(), sizeof(int) * count);
    }
  }

  ssize_t n;
  do {
    n = sendmsg(fd(), &msg, kSendFlags);
  } while (n == -1 && errno == EINTR);
  return Napi::Number::New(env, n >= 0 ? static_cast<double>(n) : -errno);
}

void Endpoint::OnPollEvent(int status, int events) {
  if (status == UV_EBADF && reading_) {
    // libuv reports POLLERR as UV_EBADF and stops the watcher, but the descriptor is fine: the socket has a
    // pending error (ECONNRESET when the peer closed with bytes of ours unread). What the peer sent before
    // it went away is still queued: read it, and let recvmsg report the real error after it.
    HandleReadable();
    // Re-arm what libuv stopped, unless that read ended the stream or JavaScript closed the endpoint.
    UpdatePoll();
    return;
  }
  if (status < 0) {
    HandlePollError(status);
    return;
  }
  if (events & (UV_READABLE | UV_DISCONNECT)) HandleReadable();
  if (!closed() && (events & UV_WRITABLE)) HandleWritable();
}

void Endpoint::HandlePollError(int status) {
  Napi::HandleScope scope(env_);
  std::vector<char> data;
  ReadMarks marks;
  DeliverBatch(data, marks, status);
}

void Endpoint::HandleReadable() {
  std::vector<char> data;
  ReadMarks marks;
  int status = ReadBatch(&data, &marks);
  if (data.empty() && marks.empty() && status == 0) return;
  Napi::HandleScope scope(env_);
  DeliverBatch(data, marks, status);
}

int Endpoint::ReadBatch(std::vector<char>* data, ReadMarks* marks) {
  Reception reception;
  // recvmsg goes into one reused, uninitialised chunk and only the bytes that arrived are appended to
  // `data`: growing `data` by a chunk per read zero-filled 64 KiB (and reallocated on the second read) for
  // what is usually a few dozen bytes of acknowledgements.
  if (!read_chunk_) read_chunk_.reset(new char[kReadChunk]);
  char* chunk = read_chunk_.get();

  for (int reads = 0; reads < kMaxReadsPerTick && data->size() < kMaxBytesPerTick; reads++) {
    ssize_t n = ReceiveOne(fd(), chunk, &reception);
    if (n == 0) return 1;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    size_t offset = data->size();
    data->insert(data->end(), chunk, chunk + n);
    // A receiver with no free descriptor slot at all gets MSG_CTRUNC and no control data: that read carried
    // descriptors, which the kernel discarded, and must be marked truncated like any other.
    if (reception.msg.msg_controllen == 0 && (reception.msg.msg_flags & MSG_CTRUNC) == 0) {
      // A short read without descriptors emptied the queue (the kernel only ends a read early after a
      // message that carried descriptors): like uv__read, wait for the next readable event instead of
      // paying a recvmsg for its EAGAIN. The poll is level-triggered, so nothing can be missed.
      if (static_cast<size_t>(n) < kReadChunk) return 0;
      continue;
    }
    RecordDescriptors(&reception.msg, offset, static_cast<size_t>(n), marks);
  }
  return 0;
}

void Endpoint::HandleWritable() {
  if (!want_writable_) return;
  want_writable_ = false;
  UpdatePoll();
  Napi::HandleScope scope(env_);
  Deliver(napi_ok, on_writable_, 0, nullptr, [] {});
}

void Endpoint::DeliverBatch(const std::vector<char>& data, const ReadMarks& marks, int status) {
  if (status != 0) {
    // End of stream or an error: stop watching, JavaScript decides when to close.
    reading_ = false;
    want_writable_ = false;
    UpdatePoll();
  }
  napi_value argv[3];
  napi_status built = NewBufferOrUndefined(env_, data.data(), data.size(), &argv[0]);
  if (built == napi_ok) built = NewInt32ArrayOrUndefined(env_, marks.data(), marks.size(), &argv[1]);
  if (built == napi_ok) built = napi_create_int32(env_, status, &argv[2]);
  Deliver(built, on_read_, 3, argv, [&marks] { marks.CloseAll(); });
}

void Endpoint::StopWatching() {
  reading_ = false;
  want_writable_ = false;
  UpdatePoll();
}

}  // namespace portunus
