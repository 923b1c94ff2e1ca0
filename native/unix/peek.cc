// See peek.h.
#include "peek.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <vector>

#include "../common/system-error.h"

namespace portunus {

namespace {

// The most one peek may ask for: a preview is a bounded prefix (a request head, a ClientHello), not a
// stream. Bounds discard's per-thread scratch buffer too.
constexpr int64_t kMaxPeekBytes = 1 << 20;

// What discard reads per recv at most.
constexpr int64_t kDiscardChunk = 64 * 1024;

// A buffer of at least `size` bytes, one per thread (worker threads load the addon too), reused.
char* Scratch(size_t size) {
  thread_local std::vector<char> scratch;
  if (scratch.size() < size) scratch.resize(size);
  return scratch.data();
}

// A positive byte count argument up to `max`, or throws and returns -1.
int64_t LengthArgument(const Napi::CallbackInfo& info, size_t index, int64_t max, const char* message) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    ThrowInvalidArg(info.Env(), message);
    return -1;
  }
  int64_t value = info[index].As<Napi::Number>().Int64Value();
  if (value < 1 || value > max) {
    ThrowInvalidArg(info.Env(), message);
    return -1;
  }
  return value;
}

// -EAGAIN for either name of "nothing yet" (they differ on some platforms), -errno otherwise.
int NegativeErrno() {
  return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

}  // namespace

Napi::Value Peek(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArgument(info, 0);
  if (fd < 0) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsBuffer()) {
    ThrowInvalidArg(env, "peek(fd, into, maxBytes): into must be a Buffer");
    return env.Undefined();
  }
  Napi::Buffer<char> into = info[1].As<Napi::Buffer<char>>();
  int64_t max = LengthArgument(info, 2, kMaxPeekBytes, "peek(fd, into, maxBytes): maxBytes must be from 1 to 1 MiB");
  if (max < 0) return env.Undefined();
  if (static_cast<size_t>(max) > into.Length()) {
    ThrowInvalidArg(env, "peek(fd, into, maxBytes): into is shorter than maxBytes");
    return env.Undefined();
  }
  ssize_t n;
  do {
    n = recv(fd, into.Data(), static_cast<size_t>(max), MSG_PEEK | MSG_DONTWAIT);
  } while (n == -1 && errno == EINTR);
  return Napi::Number::New(env, n < 0 ? NegativeErrno() : static_cast<double>(n));
}

Napi::Value Discard(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArgument(info, 0);
  if (fd < 0) return env.Undefined();
  int64_t length = LengthArgument(info, 1, kMaxPeekBytes, "discard(fd, length): length must be from 1 to 1 MiB");
  if (length < 0) return env.Undefined();
  size_t chunk = static_cast<size_t>(std::min<int64_t>(length, kDiscardChunk));
  char* sink = Scratch(chunk);
  int64_t done = 0;
  while (done < length) {
    size_t want = static_cast<size_t>(std::min<int64_t>(length - done, static_cast<int64_t>(chunk)));
    ssize_t n = recv(fd, sink, want, MSG_DONTWAIT);
    if (n == -1 && errno == EINTR) continue;
    if (n < 0 && done == 0) return Napi::Number::New(env, NegativeErrno());
    if (n <= 0) break;
    done += n;
    // A short read emptied the queue: no recv for its EAGAIN.
    if (static_cast<size_t>(n) < want) break;
  }
  return Napi::Number::New(env, static_cast<double>(done));
}

Napi::Value SetReceiveLowWater(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArgument(info, 0);
  if (fd < 0) return env.Undefined();
  int64_t bytes = LengthArgument(info, 1, kMaxPeekBytes + 1, "setReceiveLowWater(fd, bytes): bytes must be from 1");
  if (bytes < 0) return env.Undefined();
  int value = static_cast<int>(bytes);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &value, sizeof value) == -1) return Napi::Number::New(env, -errno);
  return Napi::Number::New(env, 0);
}

#ifdef __linux__
Napi::Value DeferAccept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArgument(info, 0);
  if (fd < 0) return env.Undefined();
  int64_t seconds = LengthArgument(info, 1, 3600, "deferAccept(fd, seconds): seconds must be from 1 to 3600");
  if (seconds < 0) return env.Undefined();
  int value = static_cast<int>(seconds);
  if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &value, sizeof value) == -1) {
    return Napi::Number::New(env, -errno);
  }
  return Napi::Number::New(env, 0);
}
#endif

}  // namespace portunus
