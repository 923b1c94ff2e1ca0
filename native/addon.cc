// Export table of the portunus native addon. Each entry lives in its own file under native/unix.
#include <napi.h>

#include "unix/acceptor.h"
#include "unix/endpoint.h"
#include "unix/fd-ops.h"
#include "unix/peer-credentials.h"
#include "unix/socket-info.h"

namespace portunus {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Endpoint", Endpoint::Define(env));
  exports.Set("Acceptor", Acceptor::Define(env));
  exports.Set("socketPair", Napi::Function::New(env, SocketPair, "socketPair"));
  exports.Set("dup", Napi::Function::New(env, Dup, "dup"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("setInheritable", Napi::Function::New(env, SetInheritable, "setInheritable"));
  exports.Set("setNonBlocking", Napi::Function::New(env, SetNonBlocking, "setNonBlocking"));
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
  exports.Set("describeSocket", Napi::Function::New(env, DescribeSocket, "describeSocket"));
  exports.Set("socketKind", Napi::Function::New(env, SocketKind, "socketKind"));
  exports.Set("maxFdsPerMessage", Napi::Number::New(env, kMaxFdsPerMessage));
  return exports;
}

NODE_API_MODULE(portunus, Init)

}  // namespace portunus
