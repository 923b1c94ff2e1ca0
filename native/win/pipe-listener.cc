// Named pipe listeners. Each connection is a pipe instance: the listener keeps one instance waiting
// (ConnectNamedPipe, overlapped) and creates the next as soon as a client takes it, so a client that comes
// while JavaScript is busy still connects. The acceptor's thread only waits on the kernel; every JavaScript
// call happens on the loop's thread through a thread-safe function, so the event loop never blocks.
#include "pipe-listener.h"

#include <aclapi.h>
#include <sddl.h>

#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "handle-ops.h"
#include "win-error.h"

namespace portunus {

namespace {

constexpr DWORD kBufferSize = 64 * 1024;
// Instances of one name; the acceptor creates them one at a time, so this only caps runaway growth.
constexpr DWORD kMaxInstances = PIPE_UNLIMITED_INSTANCES;
constexpr DWORD kRetryMs = 100;

std::wstring Widen(const std::string& utf8) {
  int size = MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring wide(static_cast<size_t>(size), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), wide.data(), size);
  return wide;
}

bool ReadSids(const Napi::CallbackInfo& info, size_t index, std::vector<std::wstring>* sids) {
  if (info.Length() <= index || info[index].IsUndefined()) return true;
  if (!info[index].IsArray()) {
    Napi::TypeError::New(info.Env(), "sids must be an array of strings").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Array array = info[index].As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value value = array.Get(i);
    if (!value.IsString()) {
      Napi::TypeError::New(info.Env(), "sids must be an array of strings").ThrowAsJavaScriptException();
      return false;
    }
    sids->push_back(Widen(value.As<Napi::String>().Utf8Value()));
  }
  return true;
}

struct PipeListener {
  std::wstring name;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  SECURITY_ATTRIBUTES attributes{};
  std::mutex mutex;
  HANDLE waiting = INVALID_HANDLE_VALUE;  // the instance the next client connects to
  HANDLE stop = nullptr;                  // manual-reset event; its value is the listener's handle
  bool closed = false;

  HANDLE CreateInstance(bool first) {
    DWORD mode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
    return CreateNamedPipeW(name.c_str(), mode,
                            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, kMaxInstances,
                            kBufferSize, kBufferSize, 0, &attributes);
  }

  ~PipeListener() {
    if (waiting != INVALID_HANDLE_VALUE) CloseHandle(waiting);
    if (stop != nullptr) CloseHandle(stop);
    if (descriptor != nullptr) LocalFree(descriptor);
  }
};

std::mutex registryMutex;
std::map<HANDLE, std::shared_ptr<PipeListener>>& Registry() {
  static auto* registry = new std::map<HANDLE, std::shared_ptr<PipeListener>>();
  return *registry;
}

std::shared_ptr<PipeListener> FindListener(HANDLE handle) {
  std::lock_guard<std::mutex> lock(registryMutex);
  auto found = Registry().find(handle);
  return found == Registry().end() ? nullptr : found->second;
}

// Owner this user; full access for this user and each named SID, for nobody else (no inherited entries).
std::wstring DescriptorText(const std::vector<std::wstring>& sids) {
  std::wstring self = CurrentUserSid();
  std::wstring text = L"O:" + self + L"D:P(A;;GA;;;" + self + L")";
  for (const std::wstring& sid : sids) text += L"(A;;GA;;;" + sid + L")";
  return text;
}

// Whether the pipe `handle` belongs to this user or one of `sids`.
bool OwnerTrusted(HANDLE handle, const std::vector<std::wstring>& sids, std::wstring* owner) {
  PSID ownerSid = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  if (GetSecurityInfo(handle, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION, &ownerSid, nullptr, nullptr, nullptr,
                      &descriptor) != ERROR_SUCCESS)
    return false;
  wchar_t* text = nullptr;
  bool trusted = false;
  if (ConvertSidToStringSidW(ownerSid, &text)) {
    *owner = text;
    LocalFree(text);
    trusted = *owner == CurrentUserSid();
    for (const std::wstring& sid : sids) trusted = trusted || *owner == sid;
  }
  LocalFree(descriptor);
  return trusted;
}

}  // namespace

Napi::Value SecurityDescriptor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HANDLE handle = HandleArgument(info, 0);
  if (handle == INVALID_HANDLE_VALUE) return env.Undefined();
  const SECURITY_INFORMATION parts = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  DWORD error = GetSecurityInfo(handle, SE_KERNEL_OBJECT, parts, nullptr, nullptr, nullptr, nullptr, &descriptor);
  if (error != ERROR_SUCCESS) return ThrowWinError(env, error, "GetSecurityInfo");
  wchar_t* text = nullptr;
  BOOL converted =
      ConvertSecurityDescriptorToStringSecurityDescriptorW(descriptor, SDDL_REVISION_1, parts, &text, nullptr);
  LocalFree(descriptor);
  if (!converted) return ThrowWinError(env, GetLastError(), "ConvertSecurityDescriptorToStringSecurityDescriptorW");
  // SDDL is ASCII; UTF-8 all the same, as the SIDs it names come from strings.
  int size = WideCharToMultiByte(CP_UTF8, 0, text, -1, nullptr, 0, nullptr, nullptr);
  std::string result(static_cast<size_t>(size > 0 ? size - 1 : 0), '\0');
  if (size > 1) WideCharToMultiByte(CP_UTF8, 0, text, -1, result.data(), size, nullptr, nullptr);
  LocalFree(text);
  return Napi::String::New(env, result);
}

Napi::Value ListenPipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "name must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<std::wstring> sids;
  if (!ReadSids(info, 1, &sids)) return env.Undefined();
  auto listener = std::make_shared<PipeListener>();
  listener->name = Widen(info[0].As<Napi::String>().Utf8Value());
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(DescriptorText(sids).c_str(), SDDL_REVISION_1,
                                                            &listener->descriptor, nullptr))
    return ThrowWinError(env, GetLastError(), "ConvertStringSecurityDescriptorToSecurityDescriptorW");
  listener->attributes = {sizeof(SECURITY_ATTRIBUTES), listener->descriptor, FALSE};
  // FILE_FLAG_FIRST_PIPE_INSTANCE is what refuses a name already served, on Windows. Wine (8.0) ignores the
  // flag and would add our instances to the other server's, so ask first whether the name exists: an
  // existing pipe answers at once when an instance is free, and within 1 ms when all are busy.
  if (WaitNamedPipeW(listener->name.c_str(), 1) || GetLastError() != ERROR_FILE_NOT_FOUND)
    return ThrowWinError(env, WSAEADDRINUSE, "CreateNamedPipeW");
  listener->waiting = listener->CreateInstance(true);
  if (listener->waiting == INVALID_HANDLE_VALUE) {
    DWORD error = GetLastError();
    // Someone already serves this name: FILE_FLAG_FIRST_PIPE_INSTANCE refuses to join their instances.
    return ThrowWinError(env, error == ERROR_ACCESS_DENIED ? WSAEADDRINUSE : error, "CreateNamedPipeW");
  }
  listener->stop = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  if (listener->stop == nullptr) return ThrowWinError(env, GetLastError(), "CreateEventW");
  {
    std::lock_guard<std::mutex> lock(registryMutex);
    Registry()[listener->stop] = listener;
  }
  return Napi::Number::New(env, static_cast<double>(reinterpret_cast<uintptr_t>(listener->stop)));
}

bool IsPipeListener(HANDLE handle) {
  return FindListener(handle) != nullptr;
}

bool ClosePipeListener(HANDLE handle) {
  std::shared_ptr<PipeListener> listener;
  {
    std::lock_guard<std::mutex> lock(registryMutex);
    auto found = Registry().find(handle);
    if (found == Registry().end()) return false;
    listener = found->second;
    Registry().erase(found);
  }
  std::lock_guard<std::mutex> lock(listener->mutex);
  listener->closed = true;
  SetEvent(listener->stop);
  // The waiting instance and the event are closed when the last user (an acceptor's thread) lets go.
  return true;
}

Napi::Value ConnectPipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "name must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<std::wstring> sids;
  if (!ReadSids(info, 1, &sids)) return env.Undefined();
  std::wstring name = Widen(info[0].As<Napi::String>().Utf8Value());
  // SECURITY_IDENTIFICATION: the server may learn who we are, never act as us.
  HANDLE pipe = CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                            FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, nullptr);
  if (pipe == INVALID_HANDLE_VALUE) return ThrowWinError(env, GetLastError(), "CreateFileW");
  std::wstring owner;
  if (!OwnerTrusted(pipe, sids, &owner)) {
    CloseHandle(pipe);
    std::string ownerText(owner.begin(), owner.end());
    Napi::Error error = Napi::Error::New(env, "the pipe belongs to " +
                                                  (ownerText.empty() ? std::string("an unknown owner") : ownerText) +
                                                  ", which is not this user nor an allowed SID");
    error.Set("code", Napi::String::New(env, "ERR_PORTUNUS_PEER_REFUSED"));
    error.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(reinterpret_cast<uintptr_t>(pipe)));
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  static volatile LONG counter = 0;
  std::random_device random;
  std::wstring name = L"\\\\.\\pipe\\portunus-pair-" + std::to_wstring(GetCurrentProcessId()) + L"-" +
                      std::to_wstring(InterlockedIncrement(&counter)) + L"-" + std::to_wstring(random()) +
                      std::to_wstring(random());
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(DescriptorText({}).c_str(), SDDL_REVISION_1, &descriptor,
                                                            nullptr))
    return ThrowWinError(env, GetLastError(), "ConvertStringSecurityDescriptorToSecurityDescriptorW");
  SECURITY_ATTRIBUTES attributes{sizeof(SECURITY_ATTRIBUTES), descriptor, FALSE};
  // One instance, ours from the start (FILE_FLAG_FIRST_PIPE_INSTANCE): nobody else can take the other end.
  HANDLE server =
      CreateNamedPipeW(name.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                       PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, kBufferSize,
                       kBufferSize, 0, &attributes);
  LocalFree(descriptor);
  if (server == INVALID_HANDLE_VALUE) return ThrowWinError(env, GetLastError(), "CreateNamedPipeW");
  HANDLE client = CreateFileW(name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                              FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, nullptr);
  if (client == INVALID_HANDLE_VALUE) {
    DWORD error = GetLastError();
    CloseHandle(server);
    return ThrowWinError(env, error, "CreateFileW");
  }
  // Our client is connected already: ConnectNamedPipe says so at once (ERROR_PIPE_CONNECTED). Pending would
  // mean the client reached another server's instance of the name: refused, and never waited for.
  OVERLAPPED overlapped{};
  overlapped.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  BOOL connected = ConnectNamedPipe(server, &overlapped);
  DWORD error = connected ? ERROR_SUCCESS : GetLastError();
  if (error == ERROR_IO_PENDING) {
    CancelIoEx(server, &overlapped);
    DWORD ignored = 0;
    GetOverlappedResult(server, &overlapped, &ignored, TRUE);
    error = WSAEADDRINUSE;
  }
  CloseHandle(overlapped.hEvent);
  if (error != ERROR_SUCCESS && error != ERROR_PIPE_CONNECTED) {
    CloseHandle(client);
    CloseHandle(server);
    return ThrowWinError(env, error, "ConnectNamedPipe");
  }
  Napi::Array pair = Napi::Array::New(env, 2);
  pair.Set(0u, Napi::Number::New(env, static_cast<double>(reinterpret_cast<uintptr_t>(server))));
  pair.Set(1u, Napi::Number::New(env, static_cast<double>(reinterpret_cast<uintptr_t>(client))));
  return pair;
}

// --- Acceptor -------------------------------------------------------------------------------------------

struct Acceptor::State {
  std::shared_ptr<PipeListener> listener;
  Napi::ThreadSafeFunction callback;
  std::thread thread;
  HANDLE wake = nullptr;  // auto-reset: start() after stop(), or close()
  std::mutex mutex;
  bool running = false;
  bool closing = false;
  bool threadStarted = false;

  // Runs on the acceptor's thread: connects instances until closed.
  void Loop() {
    OVERLAPPED overlapped{};
    overlapped.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        if (closing) break;
        if (!running) {
          lock.unlock();
          HANDLE handles[] = {wake, listener->stop};
          WaitForMultipleObjects(2, handles, FALSE, INFINITE);
          continue;
        }
      }
      HANDLE instance;
      {
        std::lock_guard<std::mutex> lock(listener->mutex);
        if (listener->closed) break;
        instance = listener->waiting;
      }
      if (instance == INVALID_HANDLE_VALUE) {
        // Creating the next instance failed earlier (out of handles or memory): try again shortly.
        HANDLE next = listener->CreateInstance(false);
        if (next == INVALID_HANDLE_VALUE) {
          Deliver(INVALID_HANDLE_VALUE, GetLastError());
          if (WaitForSingleObject(listener->stop, kRetryMs) == WAIT_OBJECT_0) break;
          continue;
        }
        std::lock_guard<std::mutex> lock(listener->mutex);
        listener->waiting = next;
        continue;
      }
      ResetEvent(overlapped.hEvent);
      BOOL connected = ConnectNamedPipe(instance, &overlapped);
      DWORD error = connected ? ERROR_SUCCESS : GetLastError();
      if (error == ERROR_IO_PENDING) {
        HANDLE handles[] = {overlapped.hEvent, listener->stop, wake};
        DWORD which = WaitForMultipleObjects(3, handles, FALSE, INFINITE);
        if (which != WAIT_OBJECT_0) {
          CancelIoEx(instance, &overlapped);
          DWORD ignored = 0;
          GetOverlappedResult(instance, &overlapped, &ignored, TRUE);
          continue;  // stopped or closed: the loop's top decides
        }
        DWORD ignored = 0;
        error = GetOverlappedResult(instance, &overlapped, &ignored, FALSE) ? ERROR_SUCCESS : GetLastError();
      }
      if (error == ERROR_PIPE_CONNECTED) error = ERROR_SUCCESS;
      if (error == ERROR_NO_DATA) {
        // The client came and went before we saw it: make the instance ready for the next one.
        DisconnectNamedPipe(instance);
        continue;
      }
      if (error != ERROR_SUCCESS) {
        Deliver(INVALID_HANDLE_VALUE, error);
        if (WaitForSingleObject(listener->stop, kRetryMs) == WAIT_OBJECT_0) break;
        continue;
      }
      HANDLE next = listener->CreateInstance(false);
      {
        std::lock_guard<std::mutex> lock(listener->mutex);
        listener->waiting = next;
      }
      Deliver(instance, ERROR_SUCCESS);
    }
    CloseHandle(overlapped.hEvent);
    callback.Release();
  }

  // Hands a connected instance (or an error) to JavaScript; the instance is JavaScript's from then on.
  void Deliver(HANDLE connected, DWORD error) {
    auto* event = new std::pair<HANDLE, DWORD>(connected, error);
    napi_status status =
        callback.BlockingCall(event, [](Napi::Env env, Napi::Function onAccept, std::pair<HANDLE, DWORD>* accepted) {
          if (accepted->first != INVALID_HANDLE_VALUE) {
            Napi::Int32Array handles = Napi::Int32Array::New(env, 1);
            handles[0] = static_cast<int32_t>(reinterpret_cast<uintptr_t>(accepted->first));
            onAccept.Call({handles, Napi::Number::New(env, 0)});
          } else {
            onAccept.Call({env.Undefined(), Napi::Number::New(env, NegativeErrno(accepted->second))});
          }
          delete accepted;
        });
    if (status != napi_ok) {
      if (connected != INVALID_HANDLE_VALUE) CloseHandle(connected);
      delete event;
    }
  }
};

Napi::Function Acceptor::Define(Napi::Env env) {
  return DefineClass(env, "Acceptor",
                     {InstanceMethod("start", &Acceptor::Start), InstanceMethod("stop", &Acceptor::Stop),
                      InstanceMethod("close", &Acceptor::Close), InstanceMethod("ref", &Acceptor::Ref),
                      InstanceMethod("unref", &Acceptor::Unref)});
}

Acceptor::Acceptor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Acceptor>(info) {
  Napi::Env env = info.Env();
  HANDLE handle = HandleArgument(info, 0);
  if (handle == INVALID_HANDLE_VALUE) return;
  if (info.Length() < 2 || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "onAccept must be a function").ThrowAsJavaScriptException();
    return;
  }
  std::shared_ptr<PipeListener> listener = FindListener(handle);
  if (listener == nullptr) {
    ThrowWinError(env, ERROR_INVALID_HANDLE, "Acceptor");
    return;
  }
  state_ = new State();
  state_->listener = listener;
  state_->wake = CreateEventW(nullptr, FALSE, FALSE, nullptr);
  State* state = state_;
  state_->callback =
      Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "portunus.Acceptor", 0, 1, [state](Napi::Env) {
        if (state->thread.joinable()) state->thread.join();
        CloseHandle(state->wake);
        delete state;
      });
}

Acceptor::~Acceptor() {
  Shutdown();
}

Napi::Value Acceptor::Start(const Napi::CallbackInfo& info) {
  if (state_ == nullptr) return info.Env().Undefined();
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->running = true;
  if (!state_->threadStarted) {
    state_->threadStarted = true;
    State* state = state_;
    state_->thread = std::thread([state] { state->Loop(); });
  }
  SetEvent(state_->wake);
  return info.Env().Undefined();
}

Napi::Value Acceptor::Stop(const Napi::CallbackInfo& info) {
  if (state_ == nullptr) return info.Env().Undefined();
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->running = false;
  SetEvent(state_->wake);
  return info.Env().Undefined();
}

void Acceptor::Shutdown() {
  if (state_ == nullptr) return;
  State* state = state_;
  state_ = nullptr;
  bool started;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->closing = true;
    started = state->threadStarted;
    SetEvent(state->wake);
  }
  // The thread releases the callback when it ends; one that never started is released here.
  if (!started) state->callback.Release();
}

Napi::Value Acceptor::Close(const Napi::CallbackInfo& info) {
  Shutdown();
  return info.Env().Undefined();
}

Napi::Value Acceptor::Ref(const Napi::CallbackInfo& info) {
  if (state_ != nullptr) state_->callback.Ref(info.Env());
  return info.Env().Undefined();
}

Napi::Value Acceptor::Unref(const Napi::CallbackInfo& info) {
  if (state_ != nullptr) state_->callback.Unref(info.Env());
  return info.Env().Undefined();
}

}  // namespace portunus
