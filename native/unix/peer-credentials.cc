// Peer credentials of a connected Unix socket. Linux: getsockopt(SO_PEERCRED) (unix(7)). macOS and the
// BSDs: getpeereid(3), plus LOCAL_PEERPID on macOS for the pid.
#ifdef __linux__
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#endif

#include "peer-credentials.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/system-error.h"

namespace portunus {

Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArgument(info, 0);
  if (fd < 0) return env.Undefined();
  double pid = -1;
  double uid;
  double gid;
#ifdef __linux__
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
    return ThrowSystemError(env, errno, "getsockopt", fd);
  }
  pid = cred.pid;
  uid = cred.uid;
  gid = cred.gid;
#else
  uid_t euid;
  gid_t egid;
  if (getpeereid(fd, &euid, &egid) == -1) return ThrowSystemError(env, errno, "getpeereid", fd);
  uid = euid;
  gid = egid;
#ifdef LOCAL_PEERPID
  pid_t peer_pid;
  socklen_t len = sizeof(peer_pid);
  if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, &peer_pid, &len) == 0) pid = peer_pid;
#endif
#endif
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, pid));
  result.Set("uid", Napi::Number::New(env, uid));
  result.Set("gid", Napi::Number::New(env, gid));
  return result;
}

}  // namespace portunus
