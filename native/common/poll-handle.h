// The uv_poll_t watchers of Endpoint and Acceptor: created on the loop of the JavaScript environment that
// asks (napi_get_uv_event_loop, so worker threads get their own loop), freed only once libuv has closed
// them. Man page: none; see libuv's uv_poll_t documentation.
#pragma once

#include <napi.h>
#include <uv.h>

namespace portunus {

// A started-nowhere poll handle on `fd` with `data` attached, or nullptr with a JavaScript exception
// pending. uv_poll_init puts the descriptor in non-blocking mode.
uv_poll_t* NewPollHandle(Napi::Env env, int fd, void* data);

// Stops and closes `handle`; its memory is released in libuv's close callback. Does not close the fd.
void ClosePollHandle(uv_poll_t* handle);

}  // namespace portunus
