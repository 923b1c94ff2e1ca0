// accept() only runs after FD_ACCEPT said a connection waits, on a socket WSAEventSelect made non-blocking,
// so it never waits. An accepted socket inherits the listener's event selection and non-blocking mode:
// both are cleared before JavaScript gets it, so libuv can take it as it takes any SOCKET (uv_tcp_open).
// start(max) accepts at most `max` connections per batch and then waits for the next start(), which is how
// the dispatcher leaves connections in the backlog while its workers are full.
#include "tcp-acceptor.h"

#include <winsock2.h>

#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "handle-ops.h"
#include "win-error.h"

namespace portunus {

namespace {

constexpr int kDefaultBatch = 64;

struct Accepted {
  std::vector<int32_t> sockets;
  DWORD error = 0;
};

}  // namespace

struct TcpAcceptorState {
  SOCKET listener = INVALID_SOCKET;
  HANDLE acceptEvent = nullptr;
  HANDLE wake = nullptr;  // auto-reset: start(), stop() or close()
  Napi::ThreadSafeFunction callback;
  std::thread thread;
  std::mutex mutex;
  int budget = 0;  // connections to accept before waiting for the next start(); 0 = stopped
  bool closing = false;

  void Post(Accepted* accepted) {
    napi_status status =
        callback.NonBlockingCall(accepted, [](Napi::Env env, Napi::Function onAccept, Accepted* batch) {
          Napi::Value sockets = env.Undefined();
          if (!batch->sockets.empty()) {
            Napi::Int32Array array = Napi::Int32Array::New(env, batch->sockets.size());
            for (size_t i = 0; i < batch->sockets.size(); i++) array[i] = batch->sockets[i];
            sockets = array;
          }
          int status = batch->error == 0 ? 0 : NegativeErrno(batch->error);
          delete batch;
          onAccept.Call({sockets, Napi::Number::New(env, status)});
        });
    if (status != napi_ok) {
      for (int32_t socket : accepted->sockets) closesocket(static_cast<SOCKET>(socket));
      delete accepted;
    }
  }

  void Loop() {
    for (;;) {
      int budget;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (closing) break;
        budget = this->budget;
      }
      if (budget == 0) {
        WaitForSingleObject(wake, INFINITE);
        continue;
      }
      HANDLE handles[] = {acceptEvent, wake};
      DWORD which = WaitForMultipleObjects(2, handles, FALSE, INFINITE);
      if (which != WAIT_OBJECT_0) continue;
      WSANETWORKEVENTS events{};
      WSAEnumNetworkEvents(listener, acceptEvent, &events);
      auto* accepted = new Accepted();
      while (static_cast<int>(accepted->sockets.size()) < budget) {
        SOCKET socket = accept(listener, nullptr, nullptr);
        if (socket == INVALID_SOCKET) {
          int error = WSAGetLastError();
          if (error != WSAEWOULDBLOCK && error != WSAECONNRESET) accepted->error = static_cast<DWORD>(error);
          break;
        }
        u_long blocking = 0;
        WSAEventSelect(socket, nullptr, 0);
        ioctlsocket(socket, FIONBIO, &blocking);
        SetHandleInformation(reinterpret_cast<HANDLE>(socket), HANDLE_FLAG_INHERIT, 0);
        accepted->sockets.push_back(static_cast<int32_t>(socket));
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (this->budget > 0) this->budget -= static_cast<int>(accepted->sockets.size());
        // A full batch may leave connections waiting: FD_ACCEPT is signalled again only after the next
        // accept(), so look again at once instead of waiting for an event that will not come.
        if (static_cast<int>(accepted->sockets.size()) == budget) SetEvent(acceptEvent);
        if (accepted->error != 0) this->budget = 0;
      }
      if (accepted->sockets.empty() && accepted->error == 0)
        delete accepted;
      else
        Post(accepted);
    }
    WSAEventSelect(listener, nullptr, 0);
    callback.Release();
  }
};

Napi::Function TcpAcceptor::Define(Napi::Env env) {
  return DefineClass(env, "TcpAcceptor",
                     {InstanceMethod("start", &TcpAcceptor::Start), InstanceMethod("stop", &TcpAcceptor::Stop),
                      InstanceMethod("close", &TcpAcceptor::Close), InstanceMethod("ref", &TcpAcceptor::Ref),
                      InstanceMethod("unref", &TcpAcceptor::Unref)});
}

TcpAcceptor::TcpAcceptor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TcpAcceptor>(info) {
  Napi::Env env = info.Env();
  HANDLE handle = HandleArgument(info, 0);
  if (handle == INVALID_HANDLE_VALUE) return;
  if (info.Length() < 2 || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "onAccept must be a function").ThrowAsJavaScriptException();
    return;
  }
  auto* state = new TcpAcceptorState();
  state->listener = reinterpret_cast<SOCKET>(handle);
  state->acceptEvent = CreateEventW(nullptr, FALSE, FALSE, nullptr);
  state->wake = CreateEventW(nullptr, FALSE, FALSE, nullptr);
  if (WSAEventSelect(state->listener, state->acceptEvent, FD_ACCEPT) != 0) {
    DWORD error = static_cast<DWORD>(WSAGetLastError());
    CloseHandle(state->acceptEvent);
    CloseHandle(state->wake);
    delete state;
    ThrowWinError(env, error, "WSAEventSelect");
    return;
  }
  state->callback = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "portunus.TcpAcceptor", 0, 1,
                                                  [state](Napi::Env) {
                                                    if (state->thread.joinable()) state->thread.join();
                                                    CloseHandle(state->acceptEvent);
                                                    CloseHandle(state->wake);
                                                    delete state;
                                                  });
  state_ = state;
  state->thread = std::thread([state] { state->Loop(); });
}

TcpAcceptor::~TcpAcceptor() {
  Shutdown();
}

Napi::Value TcpAcceptor::Start(const Napi::CallbackInfo& info) {
  if (state_ == nullptr) return info.Env().Undefined();
  int budget = kDefaultBatch;
  if (info.Length() > 0 && info[0].IsNumber()) budget = std::max(1, info[0].As<Napi::Number>().Int32Value());
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->budget = budget;
  // Connections that came while stopped raised FD_ACCEPT long ago: look at once.
  SetEvent(state_->acceptEvent);
  SetEvent(state_->wake);
  return info.Env().Undefined();
}

Napi::Value TcpAcceptor::Stop(const Napi::CallbackInfo& info) {
  if (state_ == nullptr) return info.Env().Undefined();
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->budget = 0;
  SetEvent(state_->wake);
  return info.Env().Undefined();
}

void TcpAcceptor::Shutdown() {
  if (state_ == nullptr) return;
  TcpAcceptorState* state = state_;
  state_ = nullptr;
  std::lock_guard<std::mutex> lock(state->mutex);
  state->closing = true;
  SetEvent(state->wake);
}

Napi::Value TcpAcceptor::Close(const Napi::CallbackInfo& info) {
  Shutdown();
  return info.Env().Undefined();
}

Napi::Value TcpAcceptor::Ref(const Napi::CallbackInfo& info) {
  if (state_ != nullptr) state_->callback.Ref(info.Env());
  return info.Env().Undefined();
}

Napi::Value TcpAcceptor::Unref(const Napi::CallbackInfo& info) {
  if (state_ != nullptr) state_->callback.Unref(info.Env());
  return info.Env().Undefined();
}

}  // namespace portunus
