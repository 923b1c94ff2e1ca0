// The Windows endpoint: the channel's bytes over one named pipe connection, with sockets carried as
// WSAPROTOCOL_INFOW records made for the peer's process (docs/protocol.md, "Windows: the pipe records").
// It has the Unix endpoint's interface (write, readStart/readStop, awaitWritable, close, ref/unref) and
// delivers reads in the same batches and `marks` layout (native/unix/read-marks.h), so the channel above
// cannot tell the two apart.
#pragma once

#include <napi.h>

namespace portunus {

struct EndpointState;

// Most sockets one record carries (src/channel chunks larger sets, as it does for SCM_RIGHTS).
constexpr int kMaxSocketsPerRecord = 64;

class Endpoint : public Napi::ObjectWrap<Endpoint> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Endpoint(const Napi::CallbackInfo& info);
  ~Endpoint() override;

 private:
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value ReadStart(const Napi::CallbackInfo& info);
  Napi::Value ReadStop(const Napi::CallbackInfo& info);
  Napi::Value AwaitWritable(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value SetPeerPid(const Napi::CallbackInfo& info);
  void Shutdown();

  EndpointState* state_ = nullptr;
};

}  // namespace portunus
