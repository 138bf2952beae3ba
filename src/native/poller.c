// The lifetime of a polled fd (see poller.h): the struct lives until both the JavaScript external
// is finalized and the poll handle (if any) has been closed by libuv.
#include "poller.h"

#include <stdlib.h>
#include <unistd.h>

napi_value throw_error(napi_env env, const char* code, const char* syscall, const char* message) {
  napi_value code_value, message_value, error, syscall_value;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value);
  napi_create_error(env, code_value, message_value, &error);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

const char* errno_name(int err) {
  return uv_err_name(-err);
}

static void maybe_free(poller_t* p) {
  if (!p->js_gone) return;
  if (p->poll_initialized && !p->poll_closed) return;
  free(p);
}

static void on_poll_closed(uv_handle_t* handle) {
  poller_t* p = handle->data;
  p->poll_closed = true;
  if (p->env_teardown && p->cleanup_hook != NULL) {
    napi_async_cleanup_hook_handle hook = p->cleanup_hook;
    p->cleanup_hook = NULL;
    napi_remove_async_cleanup_hook(hook);
  }
  maybe_free(p);
}

void poller_stop(poller_t* p) {
  if (p->events != 0) {
    uv_poll_stop(&p->poll);
    p->events = 0;
  }
  if (p->fd >= 0) {
    close(p->fd);
    p->fd = -1;
  }
  if (p->poll_initialized && !uv_is_closing((uv_handle_t*)&p->poll)) {
    uv_close((uv_handle_t*)&p->poll, on_poll_closed);
  }
}

// Drops what this struct holds in the JavaScript heap; only while the environment is alive.
static void release_js(poller_t* p) {
  if (p->env_teardown) return;
  napi_env env = p->env;
  if (p->callback != NULL) napi_delete_reference(env, p->callback);
  p->callback = NULL;
  for (int i = 0; i < POLLER_MAX_REFS; i++) {
    if (p->refs[i] != NULL) napi_delete_reference(env, p->refs[i]);
    p->refs[i] = NULL;
  }
  // closed from inside the batch callback: poller_deliver destroys the context once the call returns
  if (p->async_context != NULL && !p->in_callback) {
    napi_async_destroy(env, p->async_context);
    p->async_context = NULL;
  }
}

static void remove_cleanup_hook(poller_t* p) {
  if (p->cleanup_hook == NULL) return;
  napi_async_cleanup_hook_handle hook = p->cleanup_hook;
  p->cleanup_hook = NULL;
  napi_remove_async_cleanup_hook(hook);
}

void poller_close(poller_t* p) {
  poller_stop(p);
  remove_cleanup_hook(p);
  release_js(p);
}

// The environment (main thread at exit, or a worker) is going away with the fd still open: the
// poll handle must be closed before the loop is, or a worker's teardown aborts.
static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  poller_t* p = arg;
  (void)handle;
  p->env_teardown = true;
  poller_stop(p);
  if (!p->poll_initialized) remove_cleanup_hook(p);
  // otherwise on_poll_closed removes the hook once libuv is done with the handle
}

static void on_external_finalized(napi_env env, void* data, void* hint) {
  poller_t* p = data;
  (void)env;
  (void)hint;
  poller_stop(p);
  if (!p->env_teardown) remove_cleanup_hook(p);
  release_js(p);
  p->js_gone = true;
  maybe_free(p);
}

void poller_discard(napi_env env, poller_t* p) {
  if (p->fd >= 0) close(p->fd);
  for (int i = 0; i < POLLER_MAX_REFS; i++) {
    if (p->refs[i] != NULL) napi_delete_reference(env, p->refs[i]);
  }
  free(p);
}

bool poller_wrap(napi_env env, poller_t* p, poller_event_fn on_event, const char* resource_name, napi_value* handle) {
  p->env = env;
  p->on_event = on_event;
  p->resource_name = resource_name;
  if (napi_create_external(env, p, on_external_finalized, NULL, handle) != napi_ok) {
    poller_discard(env, p);
    return false;
  }
  napi_add_async_cleanup_hook(env, on_env_cleanup, p, &p->cleanup_hook);
  return true;
}

poller_t* poller_from(napi_env env, napi_value handle, const char* what) {
  void* data = NULL;
  if (napi_get_value_external(env, handle, &data) != napi_ok || data == NULL) {
    throw_error(env, "EINVAL", what, "expected a device handle");
    return NULL;
  }
  return data;
}

poller_t* poller_args(napi_env env, napi_callback_info info, napi_value* argv, size_t want, const char* what) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    throw_error(env, "EINVAL", what, "missing arguments");
    return NULL;
  }
  return poller_from(env, argv[0], what);
}

static void on_poll(uv_poll_t* poll, int status, int events) {
  poller_t* p = poll->data;
  if (p->fd < 0 || p->callback == NULL) return;
  p->on_event(p, status, events);
}

int poller_set_events(poller_t* p, int events) {
  if (p->fd < 0 || !p->poll_initialized || events == p->events) return 0;
  if (events == 0) {
    uv_poll_stop(&p->poll);
    p->events = 0;
    return 0;
  }
  int rc = uv_poll_start(&p->poll, events, on_poll);
  if (rc == 0) p->events = events;
  return rc;
}

napi_value poller_start(napi_env env, poller_t* p, napi_value callback, int events) {
  napi_valuetype type;
  CHECK_NAPI(env, napi_typeof(env, callback, &type));
  if (type != napi_function) return throw_error(env, "EINVAL", "start", "the batch callback must be a function");
  if (p->fd < 0) return throw_error(env, "EBADF", "start", "the device is closed");

  if (p->callback != NULL) napi_delete_reference(env, p->callback);
  p->callback = NULL;
  CHECK_NAPI(env, napi_create_reference(env, callback, 1, &p->callback));
  if (p->async_context == NULL) {
    napi_value resource, resource_name;
    CHECK_NAPI(env, napi_create_object(env, &resource));
    CHECK_NAPI(env, napi_create_string_utf8(env, p->resource_name, NAPI_AUTO_LENGTH, &resource_name));
    CHECK_NAPI(env, napi_async_init(env, resource, resource_name, &p->async_context));
  }
  if (!p->poll_initialized) {
    uv_loop_t* loop = NULL;
    CHECK_NAPI(env, napi_get_uv_event_loop(env, &loop));
    int rc = uv_poll_init(loop, &p->poll, p->fd);
    if (rc < 0) return throw_error(env, uv_err_name(rc), "uv_poll_init", uv_strerror(rc));
    p->poll.data = p;
    p->poll_initialized = true;
  }
  int rc = poller_set_events(p, events);
  if (rc < 0) return throw_error(env, uv_err_name(rc), "uv_poll_start", uv_strerror(rc));
  return NULL;
}

void poller_deliver(poller_t* p, int count, int err) {
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  napi_value callback, recv, argv[2];
  if (napi_get_reference_value(env, p->callback, &callback) == napi_ok && callback != NULL) {
    napi_get_global(env, &recv);
    napi_create_int32(env, count, &argv[0]);
    if (err != 0) {
      napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &argv[1]);
    } else {
      napi_get_undefined(env, &argv[1]);
    }
    // napi_make_callback, not napi_call_function: it runs process.nextTick and promise jobs
    // queued by the receiver (the UDP wrapper's batched send among them), as any I/O callback.
    p->in_callback = true;
    napi_status status = napi_make_callback(env, p->async_context, recv, callback, 2, argv, NULL);
    p->in_callback = false;
    if (status == napi_pending_exception) {
      // A receiver that throws is a bug: surface it as an uncaught exception, as an event would.
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
    }
    if (p->fd < 0 && p->async_context != NULL && !p->env_teardown) {
      napi_async_destroy(env, p->async_context);
      p->async_context = NULL;
    }
  }
  napi_close_handle_scope(env, scope);
}
