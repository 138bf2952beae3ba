// The Linux TAP device behind src/tap/linux-tap.ts: opens /dev/net/tun, configures the link with
// ioctls, and hands frames to JavaScript in batches read on libuv's poll (no thread pool, no
// allocation per frame). The wrapper owns every policy; this file only does the system calls.

#include "poller.h"

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
#include <linux/virtio_net.h>
#include <sys/uio.h>

// Frames read per wake-up: enough to amortise one JavaScript call, few enough that the UDP
// sockets sharing the loop get their turn (uv_poll is level-triggered, so leftovers wake us again).
#define BATCH_FRAMES 64
// Ethernet header plus one 802.1Q tag on top of the MTU.
#define FRAME_OVERHEAD (14 + 4)
#define TUN_PATH "/dev/net/tun"
// Every frame read or written carries a virtio-net header first (IFF_VNET_HDR): on reads it is
// all zeros (no offloads are offered, so the kernel hands over whole, checksummed frames); on
// writes it lets a run of TCP segments merged by the wrapper go up the stack as one (as GRO does).
#define VNET_HDR_BYTES ((ssize_t)sizeof(struct virtio_net_hdr))

typedef struct tap {
  poller_t base;  // first: the poller's finalizer frees the whole struct
  char name[IFNAMSIZ];
  uint8_t* frames;  // BATCH_FRAMES slots, allocated once (refs[0])
  int32_t* lengths; // BATCH_FRAMES lengths, allocated once (refs[1])
  size_t slot;
  double oversize;  // frames larger than a slot (the MTU was raised behind our back), dropped
} tap_t;

// ---------------------------------------------------------------------------------------------
// Errors

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

static tap_t* get_tap(napi_env env, napi_value handle) {
  return (tap_t*)poller_from(env, handle, "tap");
}

// ---------------------------------------------------------------------------------------------
// Reading: one batch per wake-up, one JavaScript call per batch.

static void on_readable(poller_t* poller, int status, int events) {
  tap_t* tap = (tap_t*)poller;
  (void)events;
  int count = 0;
  int err = status < 0 ? -status : 0;
  for (int reads = 0; err == 0 && reads < BATCH_FRAMES; reads++) {
    struct virtio_net_hdr header;
    struct iovec iov[2] = {{&header, sizeof header}, {tap->frames + (size_t)count * tap->slot, tap->slot}};
    ssize_t n = readv(poller->fd, iov, 2);
    if (n < 0) {
      if (errno == EINTR) {
        reads--;
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      err = errno;  // e.g. EBADFD: the device was deleted under us
      break;
    }
    n -= VNET_HDR_BYTES;
    // The kernel reports the full length of a frame it truncated to fit the slot.
    if (n > 0 && (size_t)n > tap->slot) {
      tap->oversize++;
      continue;
    }
    if (n <= 0) continue;
    tap->lengths[count++] = (int32_t)n;
  }
  if (err != 0) poller_set_events(poller, 0);
  if (count > 0 || err != 0) poller_deliver(poller, count, err);
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
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
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
  tap->base.fd = fd;
  memcpy(tap->name, name, IFNAMSIZ);
  tap->slot = (size_t)mtu + FRAME_OVERHEAD;

  napi_value result, handle, name_value, frames, lengths_buffer, lengths, slot;
  void* frames_data = NULL;
  void* lengths_data = NULL;
  bool ok = napi_create_buffer(env, BATCH_FRAMES * tap->slot, &frames_data, &frames) == napi_ok &&
            napi_create_arraybuffer(env, BATCH_FRAMES * sizeof(int32_t), &lengths_data, &lengths_buffer) == napi_ok &&
            napi_create_typedarray(env, napi_int32_array, BATCH_FRAMES, lengths_buffer, 0, &lengths) == napi_ok &&
            napi_create_reference(env, frames, 1, &tap->base.refs[0]) == napi_ok &&
            napi_create_reference(env, lengths, 1, &tap->base.refs[1]) == napi_ok;
  tap->frames = frames_data;
  tap->lengths = lengths_data;
  // From here on the poller owns the struct: its finalizer frees it (or poller_discard, or
  // poller_wrap when it fails).
  if (!ok) {
    poller_discard(env, &tap->base);
    return throw_error(env, "ENOMEM", "open", "cannot allocate the TAP device's buffers");
  }
  if (!poller_wrap(env, &tap->base, on_readable, "overlan:TapRead", &handle)) {
    return throw_error(env, "ENOMEM", "open", "cannot allocate the TAP device's handle");
  }

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
  return poller_start(env, &tap->base, argv[1], UV_READABLE);
}

// write(handle, frame[, segmentBytes, headerBytes, checksumStart]): true when the kernel took the
// frame, false when it refused it for now. With segmentBytes > 0 the frame is a run of TCP/IPv4
// segments merged into one (headers of the first, the TCP checksum field holding the
// pseudo-header sum): the kernel takes it as one GRO packet of segmentBytes-sized segments.
static napi_value tap_write(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_error(env, "EINVAL", "write", "write(handle, frame) takes two arguments");
  tap_t* tap = get_tap(env, argv[0]);
  if (tap == NULL) return NULL;
  void* data = NULL;
  size_t len = 0;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    return throw_error(env, "EINVAL", "write", "the frame must be a Buffer");
  }
  struct virtio_net_hdr header;
  memset(&header, 0, sizeof header);
  uint32_t segment = 0, header_bytes = 0, checksum_start = 0;
  if (argc >= 5 && napi_get_value_uint32(env, argv[2], &segment) == napi_ok && segment > 0) {
    if (napi_get_value_uint32(env, argv[3], &header_bytes) != napi_ok || napi_get_value_uint32(env, argv[4], &checksum_start) != napi_ok ||
        header_bytes >= len || checksum_start + 18 > header_bytes || segment > 0xffff) {
      return throw_error(env, "EINVAL", "write", "write: bad segment, header or checksum offsets");
    }
    header.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    header.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    header.hdr_len = (uint16_t)header_bytes;
    header.gso_size = (uint16_t)segment;
    header.csum_start = (uint16_t)checksum_start;
    header.csum_offset = 16;  // the checksum field's place in a TCP header
  }
  bool written = false;
  if (tap->base.fd >= 0) {
    struct iovec iov[2] = {{&header, sizeof header}, {data, len}};
    ssize_t n;
    do {
      n = writev(tap->base.fd, iov, 2);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
      written = n == VNET_HDR_BYTES + (ssize_t)len;
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
  poller_close(&tap->base);
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
