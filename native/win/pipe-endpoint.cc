// One thread per endpoint waits on the pipe's overlapped reads and on the completion of a write that could
// not finish at once; JavaScript runs only on the loop's thread (a thread-safe function), and no call made
// from JavaScript ever waits for the peer.
//
// On the wire, every write() becomes one record: [u32 LE byte count][u32 LE socket count]
// [socket count × WSAPROTOCOL_INFOW][bytes]. The sockets are duplicated for the peer's process, whose id
// comes from the kernel (GetNamedPipeClientProcessId / GetNamedPipeServerProcessId), never from the wire.
// The reader turns each record's WSAPROTOCOL_INFOW into a socket of its own (WSASocketW, overlapped, not
// inheritable) and reports them in `marks` against the record's first byte, as recvmsg reports SCM_RIGHTS.
#include "pipe-endpoint.h"

#include <errno.h>
#include <winsock2.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "handle-ops.h"
#include "win-error.h"

namespace portunus {

namespace {

constexpr size_t kHeaderSize = 8;
constexpr size_t kInfoSize = sizeof(WSAPROTOCOL_INFOW);
constexpr DWORD kReadSize = 64 * 1024;
// Batches delivered to JavaScript and not yet consumed before the reader stops reading: the backpressure
// the kernel's socket buffer gives the Unix endpoint.
constexpr int kMaxOutstanding = 4;
constexpr DWORD kImportFlags = WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT;
// Read marks (native/unix/read-marks.h): [offset, length, count, truncated, handle × count].
constexpr int kMarkFields = 4;

void PutU32(uint8_t* at, uint32_t value) {
  for (int i = 0; i < 4; i++) at[i] = static_cast<uint8_t>(value >> (8 * i));
}

uint32_t GetU32(const uint8_t* at) {
  return static_cast<uint32_t>(at[0]) | static_cast<uint32_t>(at[1]) << 8 | static_cast<uint32_t>(at[2]) << 16 |
         static_cast<uint32_t>(at[3]) << 24;
}

// One delivery to the loop's thread: a batch of reads, or the news that a write completed.
struct Batch {
  EndpointState* state = nullptr;
  std::vector<uint8_t> data;
  std::vector<int32_t> marks;
  int status = 0;  // 0 data, 1 end of stream, negative errno
  bool writable = false;
};

// Splits the byte stream back into records and imports their sockets.
class RecordReader {
 public:
  // Consumes `size` bytes into `batch`; returns false on a malformed record (the stream is then unusable).
  bool Push(const uint8_t* bytes, size_t size, Batch* batch) {
    while (size > 0) {
      if (remaining_ == 0 && header_.size() < kHeaderSize) {
        size_t take = std::min(size, kHeaderSize - header_.size());
        header_.insert(header_.end(), bytes, bytes + take);
        bytes += take;
        size -= take;
        if (header_.size() < kHeaderSize) break;
        remaining_ = GetU32(header_.data());
        sockets_ = GetU32(header_.data() + 4);
        if (sockets_ > static_cast<uint32_t>(kMaxSocketsPerRecord) || (sockets_ > 0 && remaining_ == 0)) return false;
        infos_.clear();
        if (sockets_ == 0) header_.clear();
        if (remaining_ == 0) header_.clear();
        continue;
      }
      if (infos_.size() < sockets_ * kInfoSize) {
        size_t take = std::min(size, sockets_ * kInfoSize - infos_.size());
        infos_.insert(infos_.end(), bytes, bytes + take);
        bytes += take;
        size -= take;
        continue;
      }
      if (sockets_ > 0) {
        // The record's first byte arrives in this batch: its sockets are reported against it.
        Import(batch, std::min<size_t>(size, remaining_));
        sockets_ = 0;
        header_.clear();
        infos_.clear();
      }
      size_t take = std::min<size_t>(size, remaining_);
      batch->data.insert(batch->data.end(), bytes, bytes + take);
      bytes += take;
      size -= take;
      remaining_ -= static_cast<uint32_t>(take);
      if (remaining_ == 0) header_.clear();
    }
    return true;
  }

  // True in the middle of a record: an end of stream here cuts a frame short.
  bool InRecord() const {
    return !header_.empty() || remaining_ > 0;
  }

 private:
  void Import(Batch* batch, size_t length) {
    size_t at = batch->marks.size();
    batch->marks.resize(at + kMarkFields);
    batch->marks[at] = static_cast<int32_t>(batch->data.size());
    batch->marks[at + 1] = static_cast<int32_t>(length);
    bool truncated = false;
    std::vector<SOCKET> imported;
    for (uint32_t i = 0; i < sockets_; i++) {
      WSAPROTOCOL_INFOW protocol;
      std::memcpy(&protocol, infos_.data() + i * kInfoSize, kInfoSize);
      SOCKET socket =
          WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &protocol, 0, kImportFlags);
      if (socket == INVALID_SOCKET) {
        truncated = true;
        continue;
      }
      imported.push_back(socket);
    }
    if (truncated) {
      // As for MSG_CTRUNC: the frame lost some of its sockets, so it keeps none of them.
      for (SOCKET socket : imported) closesocket(socket);
      imported.clear();
    }
    batch->marks[at + 2] = static_cast<int32_t>(imported.size());
    batch->marks[at + 3] = truncated ? 1 : 0;
    for (SOCKET socket : imported) batch->marks.push_back(static_cast<int32_t>(socket));
  }

  std::vector<uint8_t> header_;
  std::vector<uint8_t> infos_;
  uint32_t remaining_ = 0;
  uint32_t sockets_ = 0;
};

}  // namespace

struct EndpointState {
  HANDLE pipe = INVALID_HANDLE_VALUE;
  DWORD peerPid = 0;
  Napi::ThreadSafeFunction callback;
  std::thread thread;
  HANDLE wake = nullptr;  // auto-reset: something changed for the thread to look at

  // Shared with the thread, under `mutex`.
  std::mutex mutex;
  bool closing = false;
  bool reading = false;
  int outstanding = 0;
  OVERLAPPED writeOverlapped{};
  std::vector<uint8_t> writeBuffer;  // the record of a write the kernel has not finished
  bool writePending = false;
  bool wantWritable = false;

  // The loop's thread only.
  std::deque<Batch*> held;  // arrived while JavaScript had reads stopped
  bool jsReading = false;
  bool closed = false;
  Napi::FunctionReference onRead;
  Napi::FunctionReference onWritable;

  void Post(Batch* batch) {
    batch->state = this;
    napi_status status = callback.NonBlockingCall(
        batch, [](Napi::Env env, Napi::Function, Batch* arrived) { arrived->state->Arrive(env, arrived); });
    if (status != napi_ok) Discard(batch);
  }

  static void Discard(Batch* batch) {
    for (size_t at = 0; at < batch->marks.size();) {
      int32_t count = batch->marks[at + 2];
      for (int32_t i = 0; i < count; i++) closesocket(static_cast<SOCKET>(batch->marks[at + kMarkFields + i]));
      at += kMarkFields + count;
    }
    delete batch;
  }

  // On the loop's thread: a batch arrived from the endpoint's thread.
  void Arrive(Napi::Env env, Batch* batch) {
    if (batch->writable) {
      delete batch;
      if (!closed) onWritable.Call({});
      return;
    }
    if (!jsReading && !closed) {
      held.push_back(batch);
      return;
    }
    Hand(env, batch);
  }

  // Gives one batch to onRead (also after close: JavaScript closes the sockets of a batch nobody wants).
  void Hand(Napi::Env env, Batch* batch) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      outstanding--;
    }
    SetEvent(wake);
    Napi::Value data = env.Undefined();
    Napi::Value marks = env.Undefined();
    if (!batch->data.empty()) data = Napi::Buffer<uint8_t>::Copy(env, batch->data.data(), batch->data.size());
    if (!batch->marks.empty()) {
      Napi::Int32Array array = Napi::Int32Array::New(env, batch->marks.size());
      std::memcpy(array.Data(), batch->marks.data(), batch->marks.size() * sizeof(int32_t));
      marks = array;
    }
    int status = batch->status;
    delete batch;
    if (onRead.IsEmpty()) return;
    onRead.Call({data, marks, Napi::Number::New(env, status)});
  }

  void Loop();
};

void EndpointState::Loop() {
  OVERLAPPED readOverlapped{};
  readOverlapped.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  std::vector<uint8_t> buffer(kReadSize);
  RecordReader records;
  bool readInFlight = false;
  bool ended = false;
  auto endStatus = [&records](DWORD error) {
    bool clean = error == ERROR_BROKEN_PIPE || error == ERROR_PIPE_NOT_CONNECTED || error == ERROR_NO_DATA;
    if (!clean) return NegativeErrno(error);
    // An end in the middle of a record is a frame cut short: the channel reports it as such.
    return records.InRecord() ? -EPROTO : 1;
  };
  auto deliver = [this](Batch* batch) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      outstanding++;
    }
    Post(batch);
  };
  for (;;) {
    bool startRead;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (closing) break;
      startRead = !readInFlight && !ended && reading && outstanding < kMaxOutstanding;
    }
    if (startRead) {
      ResetEvent(readOverlapped.hEvent);
      if (!ReadFile(pipe, buffer.data(), kReadSize, nullptr, &readOverlapped) && GetLastError() != ERROR_IO_PENDING) {
        auto* batch = new Batch();
        batch->status = endStatus(GetLastError());
        ended = true;
        deliver(batch);
        continue;
      }
      readInFlight = true;
    }
    HANDLE handles[3] = {wake, writeOverlapped.hEvent, readOverlapped.hEvent};
    DWORD which = WaitForMultipleObjects(readInFlight ? 3 : 2, handles, FALSE, INFINITE);
    if (which == WAIT_OBJECT_0 + 1) {
      std::lock_guard<std::mutex> lock(mutex);
      DWORD written = 0;
      if (writePending &&
          (GetOverlappedResult(pipe, &writeOverlapped, &written, FALSE) || GetLastError() != ERROR_IO_INCOMPLETE)) {
        // Done, or failed because the peer went away: the read side reports how the stream ended.
        writePending = false;
        writeBuffer.clear();
      }
      if (!writePending) {
        ResetEvent(writeOverlapped.hEvent);
        if (wantWritable) {
          wantWritable = false;
          auto* batch = new Batch();
          batch->writable = true;
          Post(batch);
        }
      }
    } else if (which == WAIT_OBJECT_0 + 2) {
      DWORD count = 0;
      readInFlight = false;
      auto* batch = new Batch();
      if (GetOverlappedResult(pipe, &readOverlapped, &count, FALSE)) {
        if (!records.Push(buffer.data(), count, batch)) {
          // A record that cannot be (too many sockets, sockets without a byte): the stream is lost.
          batch->status = -EPROTO;
          ended = true;
        }
      } else {
        batch->status = endStatus(GetLastError());
        ended = true;
      }
      deliver(batch);
    }
  }
  // Closing: stop the read in flight and wait until the kernel lets go of the buffers.
  DWORD ignored = 0;
  if (readInFlight) {
    CancelIoEx(pipe, &readOverlapped);
    GetOverlappedResult(pipe, &readOverlapped, &ignored, TRUE);
  }
  bool pending;
  {
    std::lock_guard<std::mutex> lock(mutex);
    pending = writePending;
  }
  if (pending) {
    // A record the peer has not taken yet gets a moment to be read, as bytes in a Unix socket's buffer would.
    if (WaitForSingleObject(writeOverlapped.hEvent, 2000) != WAIT_OBJECT_0) CancelIoEx(pipe, &writeOverlapped);
    GetOverlappedResult(pipe, &writeOverlapped, &ignored, TRUE);
  }
  CloseHandle(readOverlapped.hEvent);
  CloseHandle(pipe);
  callback.Release();
}

Napi::Function Endpoint::Define(Napi::Env env) {
  return DefineClass(
      env, "Endpoint",
      {InstanceMethod("write", &Endpoint::Write), InstanceMethod("readStart", &Endpoint::ReadStart),
       InstanceMethod("readStop", &Endpoint::ReadStop), InstanceMethod("awaitWritable", &Endpoint::AwaitWritable),
       InstanceMethod("close", &Endpoint::Close), InstanceMethod("ref", &Endpoint::Ref),
       InstanceMethod("unref", &Endpoint::Unref), InstanceMethod("setPeerPid", &Endpoint::SetPeerPid)});
}

Endpoint::Endpoint(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Endpoint>(info) {
  Napi::Env env = info.Env();
  HANDLE pipe = HandleArgument(info, 0);
  if (pipe == INVALID_HANDLE_VALUE) return;
  if (info.Length() < 3 || !info[1].IsFunction() || !info[2].IsFunction()) {
    Napi::TypeError::New(env, "onRead and onWritable must be functions").ThrowAsJavaScriptException();
    return;
  }
  DWORD flags = 0;
  if (!GetNamedPipeInfo(pipe, &flags, nullptr, nullptr, nullptr)) {
    ThrowWinError(env, GetLastError(), "GetNamedPipeInfo");
    return;
  }
  bool serverEnd = (flags & PIPE_SERVER_END) != 0;
  ULONG pid = 0;
  if (!(serverEnd ? GetNamedPipeClientProcessId(pipe, &pid) : GetNamedPipeServerProcessId(pipe, &pid))) {
    ThrowWinError(env, GetLastError(), serverEnd ? "GetNamedPipeClientProcessId" : "GetNamedPipeServerProcessId");
    return;
  }
  auto* state = new EndpointState();
  state->pipe = pipe;
  state->peerPid = pid;
  state->wake = CreateEventW(nullptr, FALSE, FALSE, nullptr);
  state->writeOverlapped.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  state->onRead = Napi::Persistent(info[1].As<Napi::Function>());
  state->onWritable = Napi::Persistent(info[2].As<Napi::Function>());
  state->callback =
      Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "portunus.Endpoint", 0, 1, [state](Napi::Env) {
        if (state->thread.joinable()) state->thread.join();
        for (Batch* batch : state->held) EndpointState::Discard(batch);
        CloseHandle(state->wake);
        CloseHandle(state->writeOverlapped.hEvent);
        delete state;
      });
  state_ = state;
  state->thread = std::thread([state] { state->Loop(); });
}

Endpoint::~Endpoint() {
  Shutdown();
}

Napi::Value Endpoint::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ == nullptr) return Napi::Number::New(env, -EBADF);
  if (info.Length() < 3 || !info[0].IsBuffer()) return ThrowWinError(env, ERROR_INVALID_PARAMETER, "write");
  Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
  size_t offset = info[1].As<Napi::Number>().Uint32Value();
  size_t length = info[2].As<Napi::Number>().Uint32Value();
  if (offset > data.Length() || length > data.Length() - offset || length == 0)
    return ThrowWinError(env, ERROR_INVALID_PARAMETER, "write");
  std::vector<SOCKET> sockets;
  if (info.Length() > 3 && info[3].IsTypedArray()) {
    Napi::Int32Array handles = info[3].As<Napi::Int32Array>();
    for (size_t i = 0; i < handles.ElementLength(); i++) sockets.push_back(static_cast<SOCKET>(handles[i]));
  }
  if (sockets.size() > static_cast<size_t>(kMaxSocketsPerRecord))
    return ThrowWinError(env, ERROR_INVALID_PARAMETER, "write");
  EndpointState* state = state_;
  std::lock_guard<std::mutex> lock(state->mutex);
  if (state->writePending) return Napi::Number::New(env, -EAGAIN);
  std::vector<uint8_t>& record = state->writeBuffer;
  record.assign(kHeaderSize + sockets.size() * kInfoSize + length, 0);
  PutU32(record.data(), static_cast<uint32_t>(length));
  PutU32(record.data() + 4, static_cast<uint32_t>(sockets.size()));
  for (size_t i = 0; i < sockets.size(); i++) {
    WSAPROTOCOL_INFOW protocol{};
    // The duplicate exists for the peer's process only, and only once it calls WSASocketW: until the
    // peer acknowledges, the sender's socket stays open (src/transport keeps it until the ACK).
    if (WSADuplicateSocketW(sockets[i], state->peerPid, &protocol) != 0) {
      int error = WSAGetLastError();
      record.clear();
      return Napi::Number::New(env, NegativeErrno(static_cast<DWORD>(error)));
    }
    std::memcpy(record.data() + kHeaderSize + i * kInfoSize, &protocol, kInfoSize);
  }
  std::memcpy(record.data() + kHeaderSize + sockets.size() * kInfoSize, data.Data() + offset, length);
  if (WriteFile(state->pipe, record.data(), static_cast<DWORD>(record.size()), nullptr, &state->writeOverlapped) ||
      GetLastError() == ERROR_IO_PENDING) {
    // Either done, or the kernel holds the record until the peer reads it; a later write waits (EAGAIN)
    // until this one completes, and the thread sees the completion through the event.
    state->writePending = true;
    SetEvent(state->wake);
    return Napi::Number::New(env, static_cast<double>(length));
  }
  DWORD error = GetLastError();
  record.clear();
  return Napi::Number::New(env, error == ERROR_NO_DATA || error == ERROR_BROKEN_PIPE ? -EPIPE : NegativeErrno(error));
}

Napi::Value Endpoint::ReadStart(const Napi::CallbackInfo& info) {
  if (state_ == nullptr) return info.Env().Undefined();
  EndpointState* state = state_;
  state->jsReading = true;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->reading = true;
  }
  SetEvent(state->wake);
  while (state->jsReading && !state->held.empty() && state_ != nullptr) {
    Batch* batch = state->held.front();
    state->held.pop_front();
    state->Hand(info.Env(), batch);
  }
  return info.Env().Undefined();
}

Napi::Value Endpoint::ReadStop(const Napi::CallbackInfo& info) {
  if (state_ == nullptr) return info.Env().Undefined();
  state_->jsReading = false;
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->reading = false;
  return info.Env().Undefined();
}

Napi::Value Endpoint::AwaitWritable(const Napi::CallbackInfo& info) {
  if (state_ == nullptr) return info.Env().Undefined();
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->wantWritable = true;
  // Nothing in progress: the thread answers at once (through the loop, never from inside this call).
  SetEvent(state_->writeOverlapped.hEvent);
  SetEvent(state_->wake);
  return info.Env().Undefined();
}

void Endpoint::Shutdown() {
  if (state_ == nullptr) return;
  EndpointState* state = state_;
  state_ = nullptr;
  state->closed = true;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->closing = true;
  }
  SetEvent(state->wake);
  // Batches held while reads were stopped never reach JavaScript: their sockets are closed here. Those
  // still on their way reach onRead, which closes what a closed channel receives.
  while (!state->held.empty()) {
    EndpointState::Discard(state->held.front());
    state->held.pop_front();
  }
}

Napi::Value Endpoint::Close(const Napi::CallbackInfo& info) {
  Shutdown();
  return info.Env().Undefined();
}

Napi::Value Endpoint::Ref(const Napi::CallbackInfo& info) {
  if (state_ != nullptr) state_->callback.Ref(info.Env());
  return info.Env().Undefined();
}

// The end of a pipe pair given to a child by inheritance: the kernel recorded this process (the pair's
// creator) as the peer, so the creator names the child, whose pid it got from the spawn, not from the wire.
Napi::Value Endpoint::SetPeerPid(const Napi::CallbackInfo& info) {
  if (state_ == nullptr || info.Length() < 1 || !info[0].IsNumber()) return info.Env().Undefined();
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->peerPid = info[0].As<Napi::Number>().Uint32Value();
  return info.Env().Undefined();
}

Napi::Value Endpoint::Unref(const Napi::CallbackInfo& info) {
  if (state_ != nullptr) state_->callback.Unref(info.Env());
  return info.Env().Undefined();
}

}  // namespace portunus
