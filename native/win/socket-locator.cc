// Handle values are multiples of 4, handed out lowest first. GetProcessHandleCount says how many are open,
// so the search stops once it has met that many live handles; where it reports nothing (wine 8.0 answers 0),
// a run of kSlack values without a live handle ends it. A socket is identified by its addresses: unique for
// a connection, and for a listener unless the port is shared, where any of the sharing sockets is the same
// listener.
#include "socket-locator.h"

#include <winsock2.h>
#include <ws2tcpip.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "handle-ops.h"

namespace portunus {

namespace {

// A gap of this many handle values without a live handle ends the search early (the count includes
// handles GetHandleInformation cannot see).
constexpr uintptr_t kSlack = 16384;

bool SameAddress(const sockaddr_storage& storage, const std::string& address, int port) {
  char text[INET6_ADDRSTRLEN] = {0};
  int actualPort;
  if (storage.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    actualPort = ntohs(in->sin_port);
  } else if (storage.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    actualPort = ntohs(in6->sin6_port);
  } else {
    return false;
  }
  return actualPort == port && address == text;
}

}  // namespace

uintptr_t FindLiveHandle(const std::function<bool(uintptr_t)>& visit) {
  DWORD open = 0;
  if (!GetProcessHandleCount(GetCurrentProcess(), &open)) open = 0;
  DWORD seen = 0;
  uintptr_t lastLive = 0;
  for (uintptr_t value = 4; (open == 0 || seen < open) && value < lastLive + kSlack && value <= INT32_MAX; value += 4) {
    DWORD flags = 0;
    if (!GetHandleInformation(reinterpret_cast<HANDLE>(value), &flags)) continue;
    seen++;
    lastLive = value;
    if (visit(value)) return value;
  }
  return 0;
}

Napi::Value LocateSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string localAddress = info[0].ToString().Utf8Value();
  int localPort = info[1].ToNumber().Int32Value();
  std::string remoteAddress = info[2].ToString().Utf8Value();
  int remotePort = info[3].ToNumber().Int32Value();
  bool listening = info[4].ToBoolean().Value();
  uintptr_t found = FindLiveHandle([&](uintptr_t value) {
    SOCKET socket = static_cast<SOCKET>(value);
    sockaddr_storage storage{};
    int size = sizeof(storage);
    if (getsockname(socket, reinterpret_cast<sockaddr*>(&storage), &size) != 0) return false;
    if (!SameAddress(storage, localAddress, localPort)) return false;
    BOOL accepting = FALSE;
    size = sizeof(accepting);
    getsockopt(socket, SOL_SOCKET, SO_ACCEPTCONN, reinterpret_cast<char*>(&accepting), &size);
    if ((accepting != FALSE) != listening) return false;
    if (listening) return true;
    size = sizeof(storage);
    if (getpeername(socket, reinterpret_cast<sockaddr*>(&storage), &size) != 0) return false;
    return SameAddress(storage, remoteAddress, remotePort);
  });
  return Napi::Number::New(env, found == 0 ? -1.0 : static_cast<double>(found));
}

Napi::Value OpenHandles(const Napi::CallbackInfo& info) {
  std::vector<int32_t> values;
  FindLiveHandle([&values](uintptr_t value) {
    values.push_back(static_cast<int32_t>(value));
    return false;
  });
  Napi::Int32Array handles = Napi::Int32Array::New(info.Env(), values.size());
  for (size_t i = 0; i < values.size(); i++) handles[i] = values[i];
  return handles;
}

}  // namespace portunus
