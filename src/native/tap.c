// The Linux TAP device behind src/tap/linux-tap.ts: opens /dev/net/tun, configures the link with
// ioctls, and hands frames to JavaScript in batches read on libuv's poll (no thread pool, no
// allocation per frame). The wrapper owns every policy; this file only does the system calls.

#include "poller.h"

#include <arpa/inet.h>
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
// Every frame read or written carries a virtio-net header first (IFF_VNET_HDR). We offer checksum
// and TCP segmentation offload (TUNSETOFFLOAD in tap_open), so on reads it may say that a
// checksum is left to us (NEEDS_CSUM) or that the frame is a TSO super-frame to cut into segments
// (cut_segments); on writes it lets a run of TCP segments merged by the wrapper, each verified
// first (src/tap/tcp-coalescer.ts), go up the stack as one (as GRO does).
#define VNET_HDR_BYTES ((ssize_t)sizeof(struct virtio_net_hdr))

// The largest frame the host's TCP may hand us with segmentation offload (TSO): 64 KB of IP.
#define SUPER_FRAME_BYTES (65536 + FRAME_OVERHEAD)
// The kernel's largest MTU for a TAP device (65535 less the Ethernet header), as linux-tap.ts
// checks; a slot must never be larger than the super-frame buffer that the rest of a read fills.
#define MAX_MTU 65521

typedef struct tap {
  poller_t base;  // first: the poller's finalizer frees the whole struct
  char name[IFNAMSIZ];
  // A TSO super-frame being cut into segments: it may take more slots than a batch has left,
  // and then the rest is cut into the next batch.
  size_t super_len;  // 0: none held
  size_t super_next;  // payload offset of the next segment to cut
  uint16_t super_mss;
  double super_frames;  // super-frames cut (the host's TCP sent us runs of segments as one)
  uint8_t* frames;  // BATCH_FRAMES slots, allocated once (refs[0])
  int32_t* lengths; // BATCH_FRAMES lengths, allocated once (refs[1])
  size_t slot;
  double oversize;  // frames larger than a slot (the MTU was raised behind our back), dropped
  uint8_t super[SUPER_FRAME_BYTES];  // inside the struct, so that it is freed with it
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
// Checksums, for segments cut from a super-frame and for frames whose checksum the host left to
// the "device" (us). Summed in memory order: the ones' complement sum is byte-order independent.

static uint64_t sum_words(const uint8_t* p, size_t len, uint64_t sum) {
  for (; len >= 4; p += 4, len -= 4) {
    uint32_t word;
    memcpy(&word, p, 4);
    sum += word;
  }
  if (len >= 2) {
    uint16_t word;
    memcpy(&word, p, 2);
    sum += word;
    p += 2;
    len -= 2;
  }
  if (len == 1) {
    uint16_t word = 0;
    memcpy(&word, p, 1);
    sum += word;
  }
  return sum;
}

static uint16_t fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

static void store_checksum(uint8_t* at, uint64_t sum) {
  uint16_t checksum = (uint16_t)~fold(sum);
  memcpy(at, &checksum, 2);
}

// Completes a checksum the host left partial: the field holds the pseudo-header sum, the rest is
// summed from csum_start to the end.
static void complete_checksum(uint8_t* frame, size_t len, const struct virtio_net_hdr* h) {
  size_t start = h->csum_start, field = (size_t)h->csum_start + h->csum_offset;
  if (start >= len || field + 2 > len) return;
  uint16_t checksum = (uint16_t)~fold(sum_words(frame + start, len - start, 0));
  if (checksum == 0 && h->csum_offset == 6) checksum = 0xffff;  // UDP: 0 means "no checksum"
  memcpy(frame + field, &checksum, 2);
}

static uint16_t get16(const uint8_t* p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(uint8_t* p, uint32_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static uint32_t get32(const uint8_t* p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put32(uint8_t* p, uint32_t v) { put16(p, v >> 16), put16(p + 2, v); }

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define PROTO_TCP 6
#define IPV6_HOP_BY_HOP 0
#define IPV6_DEST_OPTIONS 60
// More would be no real stack's doing; the bound keeps a hostile chain from costing anything.
#define MAX_IPV6_EXTENSIONS 4

// Where the headers of a TCP super-frame end: the IP header (l3), TCP's (l4), and the payload.
typedef struct layout {
  size_t l3, l4, headers;
  bool v4;
} layout_t;

// Finds the layout of `len` bytes of `f`, reading only within them; false when they are not a
// TCP segment we can cut. One 802.1Q tag may come first (a VLAN on the overlay device: the slot
// has room for it). IPv4 may carry options; IPv6 hop-by-hop and destination options headers are
// walked, as they change nothing that a segment's TCP checksum covers; a routing header would (the
// pseudo-header then holds the final destination), and fragment, AH and ESP headers are never in
// a TSO frame, so anything else is refused.
static bool find_layout(const uint8_t* f, size_t len, layout_t* out) {
  size_t l3 = 14;
  if (len < l3) return false;
  uint16_t ethertype = get16(f + 12);
  if (ethertype == ETHERTYPE_VLAN) {
    l3 += 4;
    if (len < l3) return false;
    ethertype = get16(f + 16);
  }
  size_t l4;
  if (ethertype == ETHERTYPE_IPV4) {
    if (len < l3 + 20 || f[l3] >> 4 != 4 || (f[l3] & 0x0f) < 5 || f[l3 + 9] != PROTO_TCP) return false;
    l4 = l3 + (size_t)(f[l3] & 0x0f) * 4;
  } else if (ethertype == ETHERTYPE_IPV6) {
    if (len < l3 + 40 || f[l3] >> 4 != 6) return false;
    uint8_t next = f[l3 + 6];
    l4 = l3 + 40;
    for (int walked = 0; next != PROTO_TCP; walked++) {
      if ((next != IPV6_HOP_BY_HOP && next != IPV6_DEST_OPTIONS) || walked == MAX_IPV6_EXTENSIONS || len < l4 + 8) return false;
      next = f[l4];
      l4 += ((size_t)f[l4 + 1] + 1) * 8;
    }
  } else {
    return false;
  }
  if (len < l4 + 20) return false;
  size_t headers = l4 + (size_t)(f[l4 + 12] >> 4) * 4;
  if (headers < l4 + 20 || headers >= len) return false;
  out->l3 = l3, out->l4 = l4, out->headers = headers, out->v4 = ethertype == ETHERTYPE_IPV4;
  return true;
}

// Cuts the held super-frame into TCP segments of super_mss payload bytes, as the device would
// have, into slots from `count` on; returns how many it made. Each gets its own IP length (and
// IPv4 ID and header checksum), sequence number and full TCP checksum; FIN and PSH stay on the
// last, CWR on the first.
static int cut_segments(tap_t* tap, int count) {
  const uint8_t* f = tap->super;
  size_t len = tap->super_len, mss = tap->super_mss;
  layout_t at;
  if (!find_layout(f, len, &at) || mss == 0 || at.headers + mss > tap->slot) {
    tap->oversize++;  // not a TCP super-frame we can cut: dropped, as one too large
    tap->super_len = 0;
    return 0;
  }
  size_t l3 = at.l3, l4 = at.l4, headers = at.headers;
  size_t payload = len - headers;
  uint32_t seq = get32(f + l4 + 4);
  uint16_t id = at.v4 ? get16(f + l3 + 4) : 0;
  int made = 0;
  while (tap->super_next < payload && count + made < BATCH_FRAMES) {
    size_t offset = tap->super_next, chunk = payload - offset < mss ? payload - offset : mss;
    uint8_t* s = tap->frames + (size_t)(count + made) * tap->slot;
    size_t segment_len = headers + chunk;
    memcpy(s, f, headers);
    memcpy(s + headers, f + headers + offset, chunk);
    if (at.v4) {
      put16(s + l3 + 2, (uint32_t)(segment_len - l3));
      put16(s + l3 + 4, (uint32_t)(id + offset / mss));
      put16(s + l3 + 10, 0);
      store_checksum(s + l3 + 10, sum_words(s + l3, l4 - l3, 0));
    } else {
      put16(s + l3 + 4, (uint32_t)(segment_len - l3 - 40));  // extension headers included
    }
    put32(s + l4 + 4, seq + (uint32_t)offset);
    uint8_t flags = f[l4 + 13];
    if (offset + chunk < payload) flags &= (uint8_t)~(TCP_FIN | TCP_PSH);
    if (offset > 0) flags &= (uint8_t)~TCP_CWR;
    s[l4 + 13] = flags;
    put16(s + l4 + 16, 0);
    // pseudo-header: addresses, protocol, TCP length
    uint64_t sum = at.v4 ? sum_words(s + l3 + 12, 8, 0) : sum_words(s + l3 + 8, 32, 0);
    sum += htons(PROTO_TCP) + htons((uint16_t)(segment_len - l4));
    store_checksum(s + l4 + 16, sum_words(s + l4, segment_len - l4, sum));
    tap->lengths[count + made] = (int32_t)segment_len;
    made++;
    tap->super_next += chunk;
  }
  if (tap->super_next >= payload) tap->super_len = 0;
  return made;
}

// Takes the super-frame now in tap->super, `len` bytes as the read reported them, and cuts what
// fits from slot `count` on. A length beyond the buffer cannot come from readv (it never returns
// more than it was given room for), but nothing past the buffer may ever be read, whatever the
// caller says.
static int take_super_frame(tap_t* tap, int count, size_t len, uint16_t mss) {
  tap->super_frames++;
  if (len > SUPER_FRAME_BYTES) {
    tap->oversize++;
    return 0;
  }
  tap->super_len = len;
  tap->super_next = 0;
  tap->super_mss = mss;
  return cut_segments(tap, count);
}

// ---------------------------------------------------------------------------------------------
// Reading: a batch per JavaScript call; one call per wake-up, unless a super-frame's segments
// spill over, which then go in further calls at once.

// Reads one frame into slot `count`; returns how many slots it filled (a super-frame's
// segments: possibly more than one), 0 when there was nothing to use, -errno on failure.
static int read_frame(tap_t* tap, int count) {
  struct virtio_net_hdr h;
  uint8_t* s = tap->frames + (size_t)count * tap->slot;
  // tap_open keeps slot <= SUPER_FRAME_BYTES: what does not fit the slot lands after the head
  struct iovec iov[3] = {{&h, sizeof h}, {s, tap->slot}, {tap->super + tap->slot, SUPER_FRAME_BYTES - tap->slot}};
  ssize_t n;
  do {
    n = readv(tap->base.fd, iov, 3);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  n -= VNET_HDR_BYTES;
  if (n <= 0) return 0;
  uint8_t gso = h.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
  if (gso == VIRTIO_NET_HDR_GSO_NONE) {
    if ((size_t)n > tap->slot) {
      tap->oversize++;  // larger than the MTU (it was raised behind our back): dropped
      return 0;
    }
    if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) complete_checksum(s, (size_t)n, &h);
    tap->lengths[count] = (int32_t)n;
    return 1;
  }
  if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6) {
    tap->oversize++;  // a kind of offload we did not offer
    return 0;
  }
  // the head landed in the slot, the rest in the super-frame buffer after it: make it whole
  memcpy(tap->super, s, (size_t)n < tap->slot ? (size_t)n : tap->slot);
  return take_super_frame(tap, count, (size_t)n, h.gso_size);
}

static void on_readable(poller_t* poller, int status, int events) {
  tap_t* tap = (tap_t*)poller;
  (void)events;
  int err = status < 0 ? -status : 0;
  do {
    int count = 0;
    if (tap->super_len > 0) count = cut_segments(tap, 0);
    for (int reads = 0; err == 0 && tap->super_len == 0 && count < BATCH_FRAMES && reads < BATCH_FRAMES; reads++) {
      int got = read_frame(tap, count);
      if (got == -EAGAIN || got == -EWOULDBLOCK) break;
      if (got < 0) err = -got;  // e.g. EBADFD: the device was deleted under us
      else count += got;
    }
    if (err != 0) poller_set_events(poller, 0);
    if (count > 0 || err != 0) poller_deliver(poller, count, err);
  } while (err == 0 && tap->super_len > 0 && poller->fd >= 0);
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
  if (napi_get_value_int32(env, argv[2], &mtu) != napi_ok || mtu <= 0 || mtu > MAX_MTU) {
    return throw_error(env, "EINVAL", "open", "the MTU must be an integer from 1 to 65521");
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
  // Offer checksum and TCP segmentation offload: the host's TCP then hands us up to 64 KB at a
  // time (cut into segments here, in C, before the wrapper sees them). Without it, no harm done.
  ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
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
  napi_value argv[1];
  tap_t* tap = (tap_t*)poller_args(env, info, argv, 1, "close");
  if (tap == NULL) return NULL;
  poller_close(&tap->base);
  return NULL;
}

// counters(handle) -> { oversize, superFrames }: frames dropped because they did not fit a slot
// (or were offloads we did not offer), and TSO super-frames cut into segments.
static napi_value tap_counters(napi_env env, napi_callback_info info) {
  napi_value argv[1], result, value;
  tap_t* tap = (tap_t*)poller_args(env, info, argv, 1, "counters");
  if (tap == NULL) return NULL;
  CHECK_NAPI(env, napi_create_object(env, &result));
  CHECK_NAPI(env, napi_create_double(env, tap->oversize, &value));
  CHECK_NAPI(env, napi_set_named_property(env, result, "oversize", value));
  CHECK_NAPI(env, napi_create_double(env, tap->super_frames, &value));
  CHECK_NAPI(env, napi_set_named_property(env, result, "superFrames", value));
  return result;
}

// cutSegments(frame: Buffer, mss, mtu, firstSlot, reportedLength)
//   -> { segments: Buffer[], batches: number[], dropped: number }
// For tests only (test/tap/cut-segments.test.ts): LinuxTap never calls it, and its NativeAddon
// type does not name it. It runs take_super_frame and cut_segments, exactly as a read does, on a
// tap_t with no device behind it, so that cutting can be checked on inputs no kernel sends on
// demand (a length beyond the buffer, broken headers) and on a batch that fills up mid-frame
// (firstSlot: the slots already taken). `batches`: how many segments each call made.
static napi_value tap_cut_segments(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void* data = NULL;
  size_t len = 0;
  uint32_t mss = 0, mtu = 0, first = 0, reported = 0;
  if (argc < 5 || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || napi_get_value_uint32(env, argv[1], &mss) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &mtu) != napi_ok || napi_get_value_uint32(env, argv[3], &first) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &reported) != napi_ok || mss > 0xffff || mtu == 0 || mtu > MAX_MTU || first >= BATCH_FRAMES) {
    return throw_error(env, "EINVAL", "cutSegments", "cutSegments(frame, mss <= 65535, mtu 1-65521, firstSlot < batchFrames, reportedLength)");
  }
  tap_t* tap = calloc(1, sizeof *tap);
  uint8_t* frames = tap == NULL ? NULL : malloc(BATCH_FRAMES * ((size_t)mtu + FRAME_OVERHEAD));
  int32_t* lengths = frames == NULL ? NULL : malloc(BATCH_FRAMES * sizeof(int32_t));
  if (lengths == NULL) {
    free(frames);
    free(tap);
    return throw_error(env, "ENOMEM", "cutSegments", "out of memory");
  }
  tap->slot = (size_t)mtu + FRAME_OVERHEAD;
  tap->frames = frames;
  tap->lengths = lengths;
  memcpy(tap->super, data, len < SUPER_FRAME_BYTES ? len : SUPER_FRAME_BYTES);

  napi_value result, segments, batches, value;
  bool ok = napi_create_object(env, &result) == napi_ok && napi_create_array(env, &segments) == napi_ok &&
            napi_create_array(env, &batches) == napi_ok;
  uint32_t made_all = 0, calls = 0;
  int from = (int)first;
  int made = take_super_frame(tap, from, reported, (uint16_t)mss);
  for (;;) {
    for (int i = 0; ok && i < made; i++) {
      size_t slot = (size_t)(from + i);
      ok = napi_create_buffer_copy(env, (size_t)tap->lengths[slot], tap->frames + slot * tap->slot, NULL, &value) == napi_ok &&
           napi_set_element(env, segments, made_all++, value) == napi_ok;
    }
    ok = ok && napi_create_int32(env, made, &value) == napi_ok && napi_set_element(env, batches, calls++, value) == napi_ok;
    if (!ok || tap->super_len == 0) break;
    from = 0;
    made = cut_segments(tap, 0);
  }
  ok = ok && napi_set_named_property(env, result, "segments", segments) == napi_ok &&
       napi_set_named_property(env, result, "batches", batches) == napi_ok &&
       napi_create_double(env, tap->oversize, &value) == napi_ok && napi_set_named_property(env, result, "dropped", value) == napi_ok;
  free(lengths);
  free(frames);
  free(tap);
  if (!ok) return throw_error(env, "ENOMEM", "cutSegments", "cannot build the result");
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"open", NULL, tap_open, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, tap_start, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, tap_write, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, tap_close, NULL, NULL, NULL, napi_default, NULL},
      {"counters", NULL, tap_counters, NULL, NULL, NULL, napi_default, NULL},
      {"cutSegments", NULL, tap_cut_segments, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  napi_value batch;
  CHECK_NAPI(env, napi_create_uint32(env, BATCH_FRAMES, &batch));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "batchFrames", batch));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
