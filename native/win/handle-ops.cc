// Close, duplicate, inspect: what src/binding's FdBackend asks of a descriptor, done for SOCKETs and pipe
// HANDLEs. A socket is duplicated within this process the way it is sent to another one (WSADuplicateSocketW,
// then WSASocketW), since DuplicateHandle on a SOCKET is unsupported under layered service providers.
#include "handle-ops.h"

#include <sddl.h>
#include <ws2tcpip.h>

#include <cstdint>

#include "pipe-listener.h"
#include "win-error.h"

namespace portunus {

namespace {

constexpr DWORD kImportFlags = WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT;

std::string Narrow(const std::wstring& wide) {
  std::string result;
  for (wchar_t c : wide) result.push_back(static_cast<char>(c));
  return result;
}

const char* KindOfSocket(SOCKET socket, bool* listening, int* family, int* type) {
  WSAPROTOCOL_INFOW protocol{};
  int size = sizeof(protocol);
  if (getsockopt(socket, SOL_SOCKET, SO_PROTOCOL_INFOW, reinterpret_cast<char*>(&protocol), &size) != 0) return nullptr;
  *family = protocol.iAddressFamily;
  *type = protocol.iSocketType;
  BOOL accepting = FALSE;
  size = sizeof(accepting);
  *listening = getsockopt(socket, SOL_SOCKET, SO_ACCEPTCONN, reinterpret_cast<char*>(&accepting), &size) == 0 &&
               accepting != FALSE;
  bool ip = *family == AF_INET || *family == AF_INET6;
  if (ip && *type == SOCK_STREAM) return "tcp";
  if (ip && *type == SOCK_DGRAM) return "udp";
  return "socket";
}

const char* KindOfHandle(HANDLE handle) {
  switch (GetFileType(handle)) {
    case FILE_TYPE_PIPE: {
      DWORD flags = 0;
      return GetNamedPipeInfo(handle, &flags, nullptr, nullptr, nullptr) ? "named-pipe" : "fifo";
    }
    case FILE_TYPE_DISK: return "file";
    case FILE_TYPE_CHAR: return "character-device";
    default: return "other";
  }
}

void SetAddress(Napi::Object target, const char* addressKey, const char* portKey, const sockaddr_storage& storage) {
  char text[INET6_ADDRSTRLEN] = {0};
  Napi::Env env = target.Env();
  if (storage.ss_family == AF_INET) {
    const auto* address = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &address->sin_addr, text, sizeof(text));
    target.Set(portKey, Napi::Number::New(env, ntohs(address->sin_port)));
  } else if (storage.ss_family == AF_INET6) {
    const auto* address = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &address->sin6_addr, text, sizeof(text));
    target.Set(portKey, Napi::Number::New(env, ntohs(address->sin6_port)));
  } else {
    return;
  }
  target.Set(addressKey, Napi::String::New(env, text));
}

}  // namespace

bool IsSocket(SOCKET handle) {
  int type = 0;
  int size = sizeof(type);
  return getsockopt(handle, SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&type), &size) == 0;
}

std::wstring CurrentUserSid() {
  HANDLE token = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) return L"";
  std::wstring result;
  DWORD size = 0;
  GetTokenInformation(token, TokenUser, nullptr, 0, &size);
  auto* user = static_cast<TOKEN_USER*>(LocalAlloc(LPTR, size));
  if (user != nullptr && GetTokenInformation(token, TokenUser, user, size, &size)) {
    wchar_t* text = nullptr;
    if (ConvertSidToStringSidW(user->User.Sid, &text)) {
      result = text;
      LocalFree(text);
    }
  }
  LocalFree(user);
  CloseHandle(token);
  return result;
}

HANDLE HandleArgument(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    Napi::TypeError::New(info.Env(), "handle must be a number").ThrowAsJavaScriptException();
    return INVALID_HANDLE_VALUE;
  }
  int64_t value = info[index].As<Napi::Number>().Int64Value();
  if (value < 0 || value > INT32_MAX) {
    Napi::RangeError::New(info.Env(), "handle must be a non-negative int32").ThrowAsJavaScriptException();
    return INVALID_HANDLE_VALUE;
  }
  return reinterpret_cast<HANDLE>(static_cast<uintptr_t>(value));
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  HANDLE handle = HandleArgument(info, 0);
  if (handle == INVALID_HANDLE_VALUE) return info.Env().Undefined();
  if (ClosePipeListener(handle)) return info.Env().Undefined();
  SOCKET socket = reinterpret_cast<SOCKET>(handle);
  if (IsSocket(socket)) {
    if (closesocket(socket) != 0) return ThrowWinError(info.Env(), WSAGetLastError(), "closesocket");
  } else if (!CloseHandle(handle)) {
    return ThrowWinError(info.Env(), GetLastError(), "CloseHandle");
  }
  return info.Env().Undefined();
}

Napi::Value Dup(const Napi::CallbackInfo& info) {
  HANDLE handle = HandleArgument(info, 0);
  if (handle == INVALID_HANDLE_VALUE) return info.Env().Undefined();
  SOCKET socket = reinterpret_cast<SOCKET>(handle);
  if (IsSocket(socket)) {
    WSAPROTOCOL_INFOW protocol{};
    if (WSADuplicateSocketW(socket, GetCurrentProcessId(), &protocol) != 0)
      return ThrowWinError(info.Env(), WSAGetLastError(), "WSADuplicateSocketW");
    SOCKET copy = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &protocol, 0, kImportFlags);
    if (copy == INVALID_SOCKET) return ThrowWinError(info.Env(), WSAGetLastError(), "WSASocketW");
    return Napi::Number::New(info.Env(), static_cast<double>(copy));
  }
  HANDLE copy = nullptr;
  if (!DuplicateHandle(GetCurrentProcess(), handle, GetCurrentProcess(), &copy, 0, FALSE, DUPLICATE_SAME_ACCESS))
    return ThrowWinError(info.Env(), GetLastError(), "DuplicateHandle");
  return Napi::Number::New(info.Env(), static_cast<double>(reinterpret_cast<uintptr_t>(copy)));
}

Napi::Value SetInheritable(const Napi::CallbackInfo& info) {
  HANDLE handle = HandleArgument(info, 0);
  if (handle == INVALID_HANDLE_VALUE) return info.Env().Undefined();
  bool inheritable = info.Length() > 1 && info[1].ToBoolean().Value();
  if (!SetHandleInformation(handle, HANDLE_FLAG_INHERIT, inheritable ? HANDLE_FLAG_INHERIT : 0))
    return ThrowWinError(info.Env(), GetLastError(), "SetHandleInformation");
  return info.Env().Undefined();
}

// The pid at the other end of a named pipe connection, as the kernel recorded it: never from the wire.
Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  HANDLE handle = HandleArgument(info, 0);
  if (handle == INVALID_HANDLE_VALUE) return info.Env().Undefined();
  DWORD flags = 0;
  if (!GetNamedPipeInfo(handle, &flags, nullptr, nullptr, nullptr))
    return ThrowWinError(info.Env(), GetLastError(), "GetNamedPipeInfo");
  ULONG pid = 0;
  bool serverEnd = (flags & PIPE_SERVER_END) != 0;
  BOOL ok = serverEnd ? GetNamedPipeClientProcessId(handle, &pid) : GetNamedPipeServerProcessId(handle, &pid);
  if (!ok)
    return ThrowWinError(info.Env(), GetLastError(),
                         serverEnd ? "GetNamedPipeClientProcessId" : "GetNamedPipeServerProcessId");
  Napi::Object credentials = Napi::Object::New(info.Env());
  credentials.Set("pid", Napi::Number::New(info.Env(), pid));
  // Windows has no uid or gid; who may connect is decided by the pipe's security descriptor.
  credentials.Set("uid", Napi::Number::New(info.Env(), -1));
  credentials.Set("gid", Napi::Number::New(info.Env(), -1));
  return credentials;
}

Napi::Value SocketKind(const Napi::CallbackInfo& info) {
  HANDLE handle = HandleArgument(info, 0);
  if (handle == INVALID_HANDLE_VALUE) return info.Env().Undefined();
  bool listening = false;
  int family = 0;
  int type = 0;
  const char* kind = KindOfSocket(reinterpret_cast<SOCKET>(handle), &listening, &family, &type);
  if (kind == nullptr) {
    if (IsPipeListener(handle)) {
      kind = "named-pipe";
      listening = true;
    } else {
      kind = KindOfHandle(handle);
      if (std::string(kind) == "other" && GetLastError() == ERROR_INVALID_HANDLE)
        return ThrowWinError(info.Env(), ERROR_INVALID_HANDLE, "GetFileType");
    }
  }
  Napi::Array pair = Napi::Array::New(info.Env(), 2);
  pair.Set(0u, Napi::String::New(info.Env(), kind));
  pair.Set(1u, Napi::Boolean::New(info.Env(), listening));
  return pair;
}

Napi::Value DescribeSocket(const Napi::CallbackInfo& info) {
  HANDLE handle = HandleArgument(info, 0);
  if (handle == INVALID_HANDLE_VALUE) return info.Env().Undefined();
  Napi::Env env = info.Env();
  Napi::Object description = Napi::Object::New(env);
  SOCKET socket = reinterpret_cast<SOCKET>(handle);
  bool listening = false;
  int family = 0;
  int type = 0;
  const char* kind = KindOfSocket(socket, &listening, &family, &type);
  if (kind == nullptr) {
    bool listener = IsPipeListener(handle);
    description.Set("kind", Napi::String::New(env, listener ? "named-pipe" : KindOfHandle(handle)));
    if (listener) description.Set("listening", Napi::Boolean::New(env, true));
    return description;
  }
  description.Set("kind", Napi::String::New(env, kind));
  description.Set("family", Napi::String::New(env, family == AF_INET ? "IPv4" : family == AF_INET6 ? "IPv6" : "other"));
  description.Set("type", Napi::String::New(env, type == SOCK_STREAM  ? "stream"
                                                 : type == SOCK_DGRAM ? "dgram"
                                                                      : "other"));
  description.Set("listening", Napi::Boolean::New(env, listening));
  sockaddr_storage storage{};
  int size = sizeof(storage);
  if (getsockname(socket, reinterpret_cast<sockaddr*>(&storage), &size) == 0)
    SetAddress(description, "localAddress", "localPort", storage);
  size = sizeof(storage);
  if (getpeername(socket, reinterpret_cast<sockaddr*>(&storage), &size) == 0)
    SetAddress(description, "remoteAddress", "remotePort", storage);
  return description;
}

Napi::Value CurrentUser(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), Narrow(CurrentUserSid()));
}

}  // namespace portunus
