// The dispatcher's acceptor on Windows: accepts from a listening TCP SOCKET it does not own and hands the
// accepted SOCKETs to JavaScript in batches, as native/unix/acceptor.h does with accept4. A thread waits for
// FD_ACCEPT (WSAEventSelect on the listening socket); JavaScript runs only on the loop's thread.
#pragma once

#include <napi.h>

namespace portunus {

struct TcpAcceptorState;

class TcpAcceptor : public Napi::ObjectWrap<TcpAcceptor> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit TcpAcceptor(const Napi::CallbackInfo& info);
  ~TcpAcceptor() override;

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  void Shutdown();

  TcpAcceptorState* state_ = nullptr;
};

}  // namespace portunus
