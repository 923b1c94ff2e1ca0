// Named pipe servers: listenPipe() claims a pipe name with a security descriptor that admits only this
// user (and SIDs named by the caller); an Acceptor connects its instances one after another and hands each
// connected instance to JavaScript, as the Unix acceptor hands over accepted descriptors. connectPipe()
// opens the client end, refusing a server whose pipe belongs to a user it does not trust.
#pragma once

#include <napi.h>
#include <winsock2.h>

namespace portunus {

// listenPipe(name: string, sids: string[]): number — a listener handle (an event HANDLE this listener owns;
// close() closes the listener through it). Throws EADDRINUSE when the name is taken.
Napi::Value ListenPipe(const Napi::CallbackInfo& info);

// connectPipe(name: string, sids: string[]): number — a connected pipe HANDLE (overlapped, not inheritable).
// Never waits: throws EAGAIN when every instance is busy, ENOENT when nobody listens, and an Error with code
// ERR_PORTUNUS_PEER_REFUSED when the pipe's owner is neither this user nor one of `sids`.
Napi::Value ConnectPipe(const Napi::CallbackInfo& info);

// securityDescriptor(handle: number): string — the owner and DACL of the object behind `handle` (a pipe
// end: the pipe's descriptor) in SDDL, as the kernel stores it; what the Windows lane checks listenPipe's
// descriptor by.
Napi::Value SecurityDescriptor(const Napi::CallbackInfo& info);

// socketPair(): [a, b], the two ends of a connected pipe of one instance under a name nobody else can
// take: what socketpair(2) is to a Unix channel (channelPair(), socketPairForChild()).
Napi::Value SocketPair(const Napi::CallbackInfo& info);

// True (and the listener closed) when `handle` is a listener handle from ListenPipe.
bool ClosePipeListener(HANDLE handle);
bool IsPipeListener(HANDLE handle);

class Acceptor : public Napi::ObjectWrap<Acceptor> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Acceptor(const Napi::CallbackInfo& info);
  ~Acceptor() override;

 private:
  struct State;
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  void Shutdown();

  State* state_ = nullptr;
};

}  // namespace portunus
