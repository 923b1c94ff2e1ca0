// Handle values are multiples of 4, handed out lowest first; GetProcessHandleCount says how many are open,
// so the search stops once it has met that many live handles instead of guessing a range. Only handles that
// answer getsockopt are sockets; a TCP socket is identified by its addresses (unique for a connection, and
// for a listener unless the port is shared, where any of the sharing sockets is the same listener).
#include "socket-locator.h"

#include <winsock2.h>
#include <ws2tcpip.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "handle-ops.h"

namespace portunus {

namespace {

// A gap of this many handle values without a live handle ends the search early (the count includes
// handles GetHandleInformation cannot see).
constexpr uintptr_t kSlack = 65536;

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

Napi::Value LocateSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string localAddress = info[0].ToString().Utf8Value();
  int localPort = info[1].ToNumber().Int32Value();
  std::string remoteAddress = info[2].ToString().Utf8Value();
  int remotePort = info[3].ToNumber().Int32Value();
  bool listening = info[4].ToBoolean().Value();
  DWORD open = 0;
  GetProcessHandleCount(GetCurrentProcess(), &open);
  DWORD seen = 0;
  uintptr_t lastLive = 0;
  for (uintptr_t value = 4; seen < open && value < lastLive + kSlack; value += 4) {
    if (value > INT32_MAX) break;
    HANDLE handle = reinterpret_cast<HANDLE>(value);
    DWORD flags = 0;
    if (!GetHandleInformation(handle, &flags)) continue;
    seen++;
    lastLive = value;
    SOCKET socket = static_cast<SOCKET>(value);
    sockaddr_storage storage{};
    int size = sizeof(storage);
    if (getsockname(socket, reinterpret_cast<sockaddr*>(&storage), &size) != 0) continue;
    if (!SameAddress(storage, localAddress, localPort)) continue;
    BOOL accepting = FALSE;
    size = sizeof(accepting);
    getsockopt(socket, SOL_SOCKET, SO_ACCEPTCONN, reinterpret_cast<char*>(&accepting), &size);
    if ((accepting != FALSE) != listening) continue;
    if (!listening) {
      size = sizeof(storage);
      if (getpeername(socket, reinterpret_cast<sockaddr*>(&storage), &size) != 0) continue;
      if (!SameAddress(storage, remoteAddress, remotePort)) continue;
    }
    return Napi::Number::New(env, static_cast<double>(value));
  }
  return Napi::Number::New(env, -1);
}

}  // namespace portunus
