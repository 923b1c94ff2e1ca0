// Export table of the portunus native addon. Each entry lives in its own file under native/unix.
#include <errno.h>
#include <napi.h>

#ifndef _WIN32
#include <dlfcn.h>
#endif

#include "unix/abstract-socket.h"
#include "unix/acceptor.h"
#include "unix/datagram.h"
#include "unix/endpoint.h"
#include "unix/fd-ops.h"
#include "unix/peek.h"
#include "unix/peer-credentials.h"
#include "unix/readable-watcher.h"
#include "unix/reuseport-listener.h"
#include "unix/socket-info.h"

namespace portunus {

namespace {

// Node unloads (dlclose) an addon loaded by a worker thread when that worker's environment is torn down,
// and only afterwards runs the worker's loop a last time: the uv_close callbacks that the endpoint's and
// the acceptor's cleanup hooks scheduled would then jump into unmapped code (SIGSEGV when no other thread
// had loaded the addon). One extra reference to this library, never released, keeps it mapped for the
// life of the process. Thread-safe: a function-local static is initialised once.
void PinLibrary() {
#ifndef _WIN32
  static const bool pinned = [] {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&PinLibrary), &info) == 0 || info.dli_fname == nullptr) return false;
    int flags = RTLD_LAZY;
#ifdef RTLD_NOLOAD
    flags |= RTLD_NOLOAD;  // only take a reference to the copy already loaded
#endif
#ifdef RTLD_NODELETE
    flags |= RTLD_NODELETE;
#endif
    return dlopen(info.dli_fname, flags) != nullptr;
  }();
  (void)pinned;
#endif
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  PinLibrary();
  exports.Set("Endpoint", Endpoint::Define(env));
  exports.Set("Acceptor", Acceptor::Define(env));
  exports.Set("socketPair", Napi::Function::New(env, SocketPair, "socketPair"));
  exports.Set("dup", Napi::Function::New(env, Dup, "dup"));
  exports.Set("sendDatagram", Napi::Function::New(env, SendDatagram, "sendDatagram"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("setInheritable", Napi::Function::New(env, SetInheritable, "setInheritable"));
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
  exports.Set("describeSocket", Napi::Function::New(env, DescribeSocket, "describeSocket"));
  exports.Set("socketKind", Napi::Function::New(env, SocketKind, "socketKind"));
  exports.Set("socketAddresses", Napi::Function::New(env, SocketAddresses, "socketAddresses"));
  // The dispatcher's route() preview: look at a connection's first bytes, leaving them in the kernel.
  exports.Set("ReadableWatcher", ReadableWatcher::Define(env));
  exports.Set("peek", Napi::Function::New(env, Peek, "peek"));
  exports.Set("discard", Napi::Function::New(env, Discard, "discard"));
  exports.Set("setReceiveLowWater", Napi::Function::New(env, SetReceiveLowWater, "setReceiveLowWater"));
#ifdef __linux__
  exports.Set("deferAccept", Napi::Function::New(env, DeferAccept, "deferAccept"));
#endif
  // Abstract names exist on Linux only; elsewhere src/binding reports their absence as unsupported.
#ifdef __linux__
  exports.Set("listenAbstract", Napi::Function::New(env, ListenAbstract, "listenAbstract"));
  exports.Set("connectAbstract", Napi::Function::New(env, ConnectAbstract, "connectAbstract"));
#endif
  // SO_REUSEPORT groups where the platform balances them (Linux; FreeBSD's SO_REUSEPORT_LB), steering on Linux.
#ifdef PORTUNUS_REUSEPORT_OPTION
  exports.Set("listenReusePort", Napi::Function::New(env, ListenReusePort, "listenReusePort"));
#endif
#if defined(__linux__) && defined(SO_ATTACH_REUSEPORT_CBPF)
  exports.Set("steerReusePort", Napi::Function::New(env, SteerReusePort, "steerReusePort"));
#endif
  // JavaScript checks socket paths and names against it before touching the filesystem or the network.
  exports.Set("sunPathSize", Napi::Number::New(env, static_cast<double>(kSunPathSize)));
  exports.Set("maxFdsPerMessage", Napi::Number::New(env, kMaxFdsPerMessage));
  // Node's os.constants.errno has no ETOOMANYREFS (and its value differs between platforms), yet sendmsg
  // returns it when too many descriptors are in flight: JavaScript learns the number from here.
  exports.Set("ETOOMANYREFS", Napi::Number::New(env, ETOOMANYREFS));
  return exports;
}

NODE_API_MODULE(portunus, Init)

}  // namespace portunus
