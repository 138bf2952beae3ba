// The Linux TAP device behind src/tap/linux-tap.ts: opens /dev/net/tun, configures the link with
// ioctls, and hands frames to JavaScript in batches read on libuv's poll (no thread pool, no
// allocation per frame). The wrapper owns every policy; this file only does the system calls.

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
// net/if.h must come before linux/if_tun.h (which pulls in linux/if.h) to avoid redefinitions.
#include <net/if.h>
#include <net/if_arp.h>
#include <linux/if_tun.h>

// Frames read per wake-up: enough to amortise one JavaScript call, few enough that the UDP
// sockets sharing the loop get their turn (uv_poll is level-triggered, so leftovers wake us again).
#define BATCH_FRAMES 64
// Ethernet header plus one 802.1Q tag on top of the MTU.
#define FRAME_OVERHEAD (14 + 4)
#define TUN_PATH "/dev/net/tun"

typedef struct tap {
  napi_env env;
  int fd;  // -1 once closed
  char name[IFNAMSIZ];

  uv_poll_t poll;
  bool poll_initialized;  // uv_poll_init done: the handle must go through uv_close
  bool poll_closed;       // uv_close's callback ran
  bool polling;

  napi_ref callback;  // the wrapper's batch callback, held while the device is open
  napi_async_context async_context;
  napi_ref frames_ref;   // Buffer of BATCH_FRAMES slots, allocated once
  napi_ref lengths_ref;  // Int32Array of BATCH_FRAMES lengths, allocated once
  uint8_t* frames;
  int32_t* lengths;
  size_t slot;
  double oversize;  // frames larger than a slot (the MTU was raised behind our back), dropped

  napi_async_cleanup_hook_handle cleanup_hook;  // NULL once removed
  bool env_teardown;  // the environment is going away: leave its references to it
  bool js_gone;       // the external that owns this struct was finalized
  bool in_callback;   // inside napi_make_callback: the async context must outlive the call
} tap_t;

// ---------------------------------------------------------------------------------------------
// Errors

static napi_value throw_error(napi_env env, const char* code, const char* syscall, const char* message) {
  napi_value code_value, message_value, error, syscall_value;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value);
  napi_create_error(env, code_value, message_value, &error);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

static const char* errno_name(int err) {
  // libuv's error codes are negated errno values on Unix, so its table names every errno we meet.
  return uv_err_name(-err);
}

// Explains a failed open of /dev/net/tun or TUNSETIFF in terms of what the user must do.
static napi_value throw_open_error(napi_env env, int err, const char* syscall, const char* name) {
  char message[256];
  const char* code = errno_name(err);
  if (strcmp(syscall, "open") == 0) {
    if (err == ENOENT || err == ENODEV || err == ENXIO) {
      snprintf(message, sizeof message,
               "cannot open " TUN_PATH ": the tun module is missing (modprobe tun) or the device node does not exist");
    } else if (err == EPERM || err == EACCES) {
      snprintf(message, sizeof message,
               "cannot open " TUN_PATH ": permission denied: run as root or grant CAP_NET_ADMIN");
    } else {
      snprintf(message, sizeof message, "cannot open " TUN_PATH ": %s", strerror(err));
    }
  } else if (err == EPERM || err == EACCES) {
    snprintf(message, sizeof message, "cannot create TAP device %s: run as root or grant CAP_NET_ADMIN", name);
  } else if (err == EBUSY) {
    snprintf(message, sizeof message, "cannot create TAP device %s: the name is in use by another TAP device", name);
  } else if (err == EINVAL && if_nametoindex(name) != 0) {
    // TUNSETIFF says EINVAL both for a bad name and for a name taken by a non-TAP interface.
    code = "EEXIST";
    snprintf(message, sizeof message, "cannot create TAP device %s: an interface with that name exists and is not a TAP device", name);
  } else if (err == EINVAL) {
    snprintf(message, sizeof message,
             "cannot create TAP device %s: invalid interface name (at most 15 characters, no '/', ':' or whitespace)", name);
  } else {
    snprintf(message, sizeof message, "cannot create TAP device %s: %s", name, strerror(err));
  }
  return throw_error(env, code, syscall, message);
}

static napi_value throw_config_error(napi_env env, int err, const char* syscall, const char* what, const char* name) {
  char message[256];
  if (err == EPERM || err == EACCES) {
    snprintf(message, sizeof message, "cannot set %s of %s: run as root or grant CAP_NET_ADMIN", what, name);
  } else {
    snprintf(message, sizeof message, "cannot set %s of %s: %s", what, name, strerror(err));
  }
  return throw_error(env, errno_name(err), syscall, message);
}

#define CHECK_NAPI(env, call)                                                    \
  do {                                                                           \
    if ((call) != napi_ok) return throw_error((env), "EINVAL", #call, "N-API call failed: " #call); \
  } while (0)

// ---------------------------------------------------------------------------------------------
// Lifetime: the struct lives until both the JavaScript external is finalized and the poll
// handle (if any) has been closed by libuv.

static void maybe_free(tap_t* tap) {
  if (!tap->js_gone) return;
  if (tap->poll_initialized && !tap->poll_closed) return;
  free(tap);
}

static void on_poll_closed(uv_handle_t* handle) {
  tap_t* tap = handle->data;
  tap->poll_closed = true;
  if (tap->env_teardown && tap->cleanup_hook != NULL) {
    napi_async_cleanup_hook_handle hook = tap->cleanup_hook;
    tap->cleanup_hook = NULL;
    napi_remove_async_cleanup_hook(hook);
  }
  maybe_free(tap);
}

// Stops reading and closes the fd (which removes a non-persistent TAP device). Idempotent.
static void stop_device(tap_t* tap) {
  if (tap->polling) {
    uv_poll_stop(&tap->poll);
    tap->polling = false;
  }
  if (tap->fd >= 0) {
    close(tap->fd);
    tap->fd = -1;
  }
  if (tap->poll_initialized && !uv_is_closing((uv_handle_t*)&tap->poll)) {
    uv_close((uv_handle_t*)&tap->poll, on_poll_closed);
  }
}

// Drops what this struct holds in the JavaScript heap; only while the environment is alive.
static void release_js(tap_t* tap) {
  if (tap->env_teardown) return;
  napi_env env = tap->env;
  if (tap->callback != NULL) napi_delete_reference(env, tap->callback);
  if (tap->frames_ref != NULL) napi_delete_reference(env, tap->frames_ref);
  if (tap->lengths_ref != NULL) napi_delete_reference(env, tap->lengths_ref);
  tap->callback = NULL;
  tap->frames_ref = NULL;
  tap->lengths_ref = NULL;
  // closed from inside the batch callback: deliver() destroys the context once the call returns
  if (tap->async_context != NULL && !tap->in_callback) {
    napi_async_destroy(env, tap->async_context);
    tap->async_context = NULL;
  }
}

static void remove_cleanup_hook(tap_t* tap) {
  if (tap->cleanup_hook == NULL) return;
  napi_async_cleanup_hook_handle hook = tap->cleanup_hook;
  tap->cleanup_hook = NULL;
  napi_remove_async_cleanup_hook(hook);
}

// The environment (main thread at exit, or a worker) is going away with the device still open:
// the poll handle must be closed before the loop is, or a worker's teardown aborts.
static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  tap_t* tap = arg;
  (void)handle;
  tap->env_teardown = true;
  stop_device(tap);
  if (!tap->poll_initialized) remove_cleanup_hook(tap);
  // otherwise on_poll_closed removes the hook once libuv is done with the handle
}

static void on_external_finalized(napi_env env, void* data, void* hint) {
  tap_t* tap = data;
  (void)env;
  (void)hint;
  stop_device(tap);
  if (!tap->env_teardown) remove_cleanup_hook(tap);
  release_js(tap);
  tap->js_gone = true;
  maybe_free(tap);
}

static tap_t* get_tap(napi_env env, napi_value handle) {
  void* data = NULL;
  if (napi_get_value_external(env, handle, &data) != napi_ok || data == NULL) {
    throw_error(env, "EINVAL", "tap", "expected a TAP handle");
    return NULL;
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// Reading: one batch per wake-up, one JavaScript call per batch.

static void deliver(tap_t* tap, int count, int err) {
  napi_env env = tap->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  napi_value callback, recv, argv[2];
  if (napi_get_reference_value(env, tap->callback, &callback) == napi_ok && callback != NULL) {
    napi_get_global(env, &recv);
    napi_create_int32(env, count, &argv[0]);
    if (err != 0) {
      napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &argv[1]);
    } else {
      napi_get_undefined(env, &argv[1]);
    }
    // napi_make_callback, not napi_call_function: it runs process.nextTick and promise jobs
    // queued by the receiver, as for any other I/O callback.
    tap->in_callback = true;
    napi_status status = napi_make_callback(env, tap->async_context, recv, callback, 2, argv, NULL);
    tap->in_callback = false;
    if (status == napi_pending_exception) {
      // A receiver that throws is a bug: surface it as an uncaught exception, as an event would.
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
    }
    if (tap->fd < 0 && tap->async_context != NULL && !tap->env_teardown) {
      napi_async_destroy(env, tap->async_context);
      tap->async_context = NULL;
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t* poll, int status, int events) {
  tap_t* tap = poll->data;
  (void)events;
  if (tap->fd < 0 || tap->callback == NULL) return;

  int count = 0;
  int err = status < 0 ? -status : 0;
  for (int reads = 0; err == 0 && reads < BATCH_FRAMES; reads++) {
    ssize_t n = read(tap->fd, tap->frames + (size_t)count * tap->slot, tap->slot);
    if (n < 0) {
      if (errno == EINTR) {
        reads--;
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      err = errno;  // e.g. EBADFD: the device was deleted under us
      break;
    }
    // The kernel reports the full length of a frame it truncated to fit the slot.
    if ((size_t)n > tap->slot) {
      tap->oversize++;
      continue;
    }
    if (n == 0) continue;
    tap->lengths[count++] = (int32_t)n;
  }
  if (err != 0 && tap->polling) {
    uv_poll_stop(&tap->poll);
    tap->polling = false;
  }
  if (count > 0 || err != 0) deliver(tap, count, err);
}

// ---------------------------------------------------------------------------------------------
// JavaScript API

// open(name: string, mac: Buffer(6), mtu: number)
//   -> { handle, name, frames: Buffer, lengths: Int32Array, slot: number }
static napi_value tap_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_error(env, "EINVAL", "open", "open(name, mac, mtu) takes three arguments");

  char name[IFNAMSIZ];
  size_t name_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &name_len) != napi_ok) {
    return throw_error(env, "EINVAL", "open", "the TAP name must be a string");
  }
  if (name_len == 0 || name_len >= IFNAMSIZ) {
    return throw_error(env, "EINVAL", "open",
                       "invalid interface name (at most 15 characters, no '/', ':' or whitespace)");
  }
  CHECK_NAPI(env, napi_get_value_string_utf8(env, argv[0], name, sizeof name, &name_len));

  void* mac = NULL;
  size_t mac_len = 0;
  if (napi_get_buffer_info(env, argv[1], &mac, &mac_len) != napi_ok || mac_len != 6) {
    return throw_error(env, "EINVAL", "open", "the MAC address must be a 6-byte Buffer");
  }
  int32_t mtu = 0;
  if (napi_get_value_int32(env, argv[2], &mtu) != napi_ok || mtu <= 0) {
    return throw_error(env, "EINVAL", "open", "the MTU must be a positive integer");
  }

  int fd = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_open_error(env, errno, "open", name);

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, name_len);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_open_error(env, err, "ioctl(TUNSETIFF)", name);
  }
  // the kernel filled in the name it chose for a pattern such as "overlan%d"
  memcpy(name, ifr.ifr_name, IFNAMSIZ);
  name[IFNAMSIZ - 1] = '\0';

  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    int err = errno;
    close(fd);
    return throw_config_error(env, err, "socket", "link settings", name);
  }
  const char* failed_what = NULL;
  const char* failed_call = NULL;
  int err = 0;

  struct ifreq req;
  memset(&req, 0, sizeof req);
  memcpy(req.ifr_name, name, IFNAMSIZ);
  req.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  memcpy(req.ifr_hwaddr.sa_data, mac, 6);
  if (ioctl(sock, SIOCSIFHWADDR, &req) < 0) {
    err = errno, failed_what = "the MAC address", failed_call = "ioctl(SIOCSIFHWADDR)";
  }
  if (err == 0) {
    memset(&req, 0, sizeof req);
    memcpy(req.ifr_name, name, IFNAMSIZ);
    req.ifr_mtu = mtu;
    if (ioctl(sock, SIOCSIFMTU, &req) < 0) err = errno, failed_what = "the MTU", failed_call = "ioctl(SIOCSIFMTU)";
  }
  if (err == 0) {
    memset(&req, 0, sizeof req);
    memcpy(req.ifr_name, name, IFNAMSIZ);
    if (ioctl(sock, SIOCGIFFLAGS, &req) < 0) {
      err = errno, failed_what = "the link state", failed_call = "ioctl(SIOCGIFFLAGS)";
    } else {
      req.ifr_flags |= IFF_UP;
      if (ioctl(sock, SIOCSIFFLAGS, &req) < 0) err = errno, failed_what = "the link up", failed_call = "ioctl(SIOCSIFFLAGS)";
    }
  }
  close(sock);
  if (err != 0) {
    close(fd);  // the device goes with its fd
    return throw_config_error(env, err, failed_call, failed_what, name);
  }

  tap_t* tap = calloc(1, sizeof *tap);
  if (tap == NULL) {
    close(fd);
    return throw_error(env, "ENOMEM", "open", "out of memory");
  }
  tap->env = env;
  tap->fd = fd;
  memcpy(tap->name, name, IFNAMSIZ);
  tap->slot = (size_t)mtu + FRAME_OVERHEAD;

  napi_value result, handle, name_value, frames, lengths_buffer, lengths, slot;
  void* frames_data = NULL;
  void* lengths_data = NULL;
  bool ok = napi_create_buffer(env, BATCH_FRAMES * tap->slot, &frames_data, &frames) == napi_ok &&
            napi_create_arraybuffer(env, BATCH_FRAMES * sizeof(int32_t), &lengths_data, &lengths_buffer) == napi_ok &&
            napi_create_typedarray(env, napi_int32_array, BATCH_FRAMES, lengths_buffer, 0, &lengths) == napi_ok &&
            napi_create_reference(env, frames, 1, &tap->frames_ref) == napi_ok &&
            napi_create_reference(env, lengths, 1, &tap->lengths_ref) == napi_ok &&
            napi_create_external(env, tap, on_external_finalized, NULL, &handle) == napi_ok;
  if (!ok) {
    close(fd);
    if (tap->frames_ref != NULL) napi_delete_reference(env, tap->frames_ref);
    if (tap->lengths_ref != NULL) napi_delete_reference(env, tap->lengths_ref);
    free(tap);
    return throw_error(env, "ENOMEM", "open", "cannot allocate the TAP device's buffers");
  }
  // From here on the external's finalizer owns the struct.
  tap->frames = frames_data;
  tap->lengths = lengths_data;
  napi_add_async_cleanup_hook(env, on_env_cleanup, tap, &tap->cleanup_hook);

  CHECK_NAPI(env, napi_create_object(env, &result));
  CHECK_NAPI(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &name_value));
  CHECK_NAPI(env, napi_create_uint32(env, (uint32_t)tap->slot, &slot));
  CHECK_NAPI(env, napi_set_named_property(env, result, "handle", handle));
  CHECK_NAPI(env, napi_set_named_property(env, result, "name", name_value));
  CHECK_NAPI(env, napi_set_named_property(env, result, "frames", frames));
  CHECK_NAPI(env, napi_set_named_property(env, result, "lengths", lengths));
  CHECK_NAPI(env, napi_set_named_property(env, result, "slot", slot));
  return result;
}

// start(handle, onBatch: (count: number, error?: string) => void): begins polling the fd.
static napi_value tap_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_error(env, "EINVAL", "start", "start(handle, callback) takes two arguments");
  tap_t* tap = get_tap(env, argv[0]);
  if (tap == NULL) return NULL;
  napi_valuetype type;
  CHECK_NAPI(env, napi_typeof(env, argv[1], &type));
  if (type != napi_function) return throw_error(env, "EINVAL", "start", "the batch callback must be a function");
  if (tap->fd < 0) return throw_error(env, "EBADF", "start", "the TAP device is closed");

  if (tap->callback != NULL) napi_delete_reference(env, tap->callback);
  tap->callback = NULL;
  CHECK_NAPI(env, napi_create_reference(env, argv[1], 1, &tap->callback));
  if (tap->async_context == NULL) {
    napi_value resource, resource_name;
    CHECK_NAPI(env, napi_create_object(env, &resource));
    CHECK_NAPI(env, napi_create_string_utf8(env, "overlan:TapRead", NAPI_AUTO_LENGTH, &resource_name));
    CHECK_NAPI(env, napi_async_init(env, resource, resource_name, &tap->async_context));
  }
  if (!tap->poll_initialized) {
    uv_loop_t* loop = NULL;
    CHECK_NAPI(env, napi_get_uv_event_loop(env, &loop));
    int rc = uv_poll_init(loop, &tap->poll, tap->fd);
    if (rc < 0) return throw_error(env, uv_err_name(rc), "uv_poll_init", uv_strerror(rc));
    tap->poll.data = tap;
    tap->poll_initialized = true;
  }
  if (!tap->polling) {
    int rc = uv_poll_start(&tap->poll, UV_READABLE, on_readable);
    if (rc < 0) return throw_error(env, uv_err_name(rc), "uv_poll_start", uv_strerror(rc));
    tap->polling = true;
  }
  return NULL;
}

// write(handle, frame): true when the kernel took the frame, false when it refused it for now.
static napi_value tap_write(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_error(env, "EINVAL", "write", "write(handle, frame) takes two arguments");
  tap_t* tap = get_tap(env, argv[0]);
  if (tap == NULL) return NULL;
  void* data = NULL;
  size_t len = 0;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    return throw_error(env, "EINVAL", "write", "the frame must be a Buffer");
  }
  bool written = false;
  if (tap->fd >= 0) {
    ssize_t n;
    do {
      n = write(tap->fd, data, len);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
      written = (size_t)n == len;
    } else {
      int err = errno;
      // Refusals the caller can count and live with: a full queue or no memory, the link set
      // down by the administrator (EIO), the device deleted under us (EBADFD, also seen by reads).
      bool refused = err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == ENOMEM || err == EIO ||
                     err == EBADFD;
      if (!refused) {
        char message[128];
        snprintf(message, sizeof message, "write to TAP device %s failed: %s", tap->name, strerror(err));
        return throw_error(env, errno_name(err), "write", message);
      }
    }
  }
  CHECK_NAPI(env, napi_get_boolean(env, written, &result));
  return result;
}

// close(handle): removes the device; harmless when already closed.
static napi_value tap_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_error(env, "EINVAL", "close", "close(handle) takes one argument");
  tap_t* tap = get_tap(env, argv[0]);
  if (tap == NULL) return NULL;
  stop_device(tap);
  remove_cleanup_hook(tap);
  release_js(tap);
  return NULL;
}

// oversize(handle): frames dropped because they did not fit a slot.
static napi_value tap_oversize(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_error(env, "EINVAL", "oversize", "oversize(handle) takes one argument");
  tap_t* tap = get_tap(env, argv[0]);
  if (tap == NULL) return NULL;
  CHECK_NAPI(env, napi_create_double(env, tap->oversize, &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"open", NULL, tap_open, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, tap_start, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, tap_write, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, tap_close, NULL, NULL, NULL, napi_default, NULL},
      {"oversize", NULL, tap_oversize, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  napi_value batch;
  CHECK_NAPI(env, napi_create_uint32(env, BATCH_FRAMES, &batch));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "batchFrames", batch));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
