// Export table of the portunus native addon on Windows (cross-built by .ci/windows-lane.sh; see
// docs/windows.md). The same names as native/addon.cc where the operation exists on both platforms, so
// src/binding/windows.ts wraps it the way src/binding/unix.ts wraps the Unix build.
#include <napi.h>
#include <winsock2.h>

#include "handle-ops.h"
#include "pipe-endpoint.h"
#include "pipe-listener.h"
#include "socket-locator.h"
#include "tcp-acceptor.h"

namespace portunus {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Node's libuv started Winsock already; our own reference keeps it started for as long as we are loaded.
  WSADATA data;
  WSAStartup(MAKEWORD(2, 2), &data);
  exports.Set("Endpoint", Endpoint::Define(env));
  exports.Set("Acceptor", Acceptor::Define(env));
  exports.Set("TcpAcceptor", TcpAcceptor::Define(env));
  exports.Set("listenPipe", Napi::Function::New(env, ListenPipe, "listenPipe"));
  exports.Set("connectPipe", Napi::Function::New(env, ConnectPipe, "connectPipe"));
  exports.Set("socketPair", Napi::Function::New(env, SocketPair, "socketPair"));
  exports.Set("dup", Napi::Function::New(env, Dup, "dup"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("setInheritable", Napi::Function::New(env, SetInheritable, "setInheritable"));
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
  exports.Set("describeSocket", Napi::Function::New(env, DescribeSocket, "describeSocket"));
  exports.Set("socketKind", Napi::Function::New(env, SocketKind, "socketKind"));
  exports.Set("securityDescriptor", Napi::Function::New(env, SecurityDescriptor, "securityDescriptor"));
  exports.Set("currentUser", Napi::Function::New(env, CurrentUser, "currentUser"));
  exports.Set("openHandles", Napi::Function::New(env, OpenHandles, "openHandles"));
  exports.Set("locateSocket", Napi::Function::New(env, LocateSocket, "locateSocket"));
  exports.Set("maxFdsPerMessage", Napi::Number::New(env, kMaxSocketsPerRecord));
  return exports;
}

NODE_API_MODULE(portunus, Init)

}  // namespace portunus
