// What the TAP and UDP addons share: a non-blocking fd watched by libuv's poll, a JavaScript
// callback called once per batch, and the lifetime rules that let the fd be closed from
// JavaScript, by the garbage collector or by the environment's teardown, in any order.
#ifndef OVERLAN_POLLER_H
#define OVERLAN_POLLER_H

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <uv.h>

#include <stdbool.h>

// JavaScript arrays a device shares with its wrapper, held while the device is open.
#define POLLER_MAX_REFS 4

typedef struct poller poller_t;
// Called on every poll event (UV_READABLE / UV_WRITABLE); `status` is libuv's (< 0: an error).
typedef void (*poller_event_fn)(poller_t* poller, int status, int events);

// Embedded as the first member of a device's struct, which poller_wrap's finalizer frees.
struct poller {
  napi_env env;
  int fd;  // -1 once closed
  uv_poll_t poll;
  bool poll_initialized;  // uv_poll_init done: the handle must go through uv_close
  bool poll_closed;       // uv_close's callback ran
  int events;             // what is polled now (0: stopped)

  napi_ref callback;  // the wrapper's batch callback, held while the device is open
  napi_async_context async_context;
  napi_ref refs[POLLER_MAX_REFS];
  poller_event_fn on_event;
  const char* resource_name;  // async_hooks' name for the batch callbacks

  napi_async_cleanup_hook_handle cleanup_hook;  // NULL once removed
  bool env_teardown;  // the environment is going away: leave its references to it
  bool js_gone;       // the external that owns this struct was finalized
  bool in_callback;   // inside napi_make_callback: the async context must outlive the call
};

napi_value throw_error(napi_env env, const char* code, const char* syscall, const char* message);
// libuv's error codes are negated errno values on Unix, so its table names every errno we meet.
const char* errno_name(int err);

#define CHECK_NAPI(env, call)                                                                      \
  do {                                                                                             \
    if ((call) != napi_ok) return throw_error((env), "EINVAL", #call, "N-API call failed: " #call); \
  } while (0)

// Takes ownership of `poller` (calloc'd, fd set, refs filled): on success *handle is the external
// whose finalizer frees it; on failure the fd is closed, the struct freed and NULL returned.
bool poller_wrap(napi_env env, poller_t* poller, poller_event_fn on_event, const char* resource_name, napi_value* handle);
// Closes the fd, drops the refs and frees a struct that poller_wrap never took.
void poller_discard(napi_env env, poller_t* poller);
poller_t* poller_from(napi_env env, napi_value handle, const char* what);
// Reads `want` arguments into argv, the first a device handle; throws (returns NULL) otherwise.
poller_t* poller_args(napi_env env, napi_callback_info info, napi_value* argv, size_t want, const char* what);
// Sets the batch callback and polls for `events`; throws (returns NULL) on failure.
napi_value poller_start(napi_env env, poller_t* poller, napi_value callback, int events);
// Changes what is polled (e.g. adds UV_WRITABLE while sends wait); 0 or a libuv error.
int poller_set_events(poller_t* poller, int events);
// Stops polling and closes the fd. Idempotent.
void poller_stop(poller_t* poller);
// poller_stop, and drops the JavaScript references: what close() from JavaScript does.
void poller_close(poller_t* poller);
// Calls the batch callback as callback(count, errorName | undefined).
void poller_deliver(poller_t* poller, int count, int err);

#endif
