// The batched UDP socket behind src/net/batch-udp-transport.ts: recvmmsg fills a batch of slots
// per wake-up and hands it to JavaScript in one call; sendmmsg sends what the wrapper queued in
// its ring, one system call per batch instead of one per datagram (dgram's cost on the data path).
// The wrapper owns every policy (queueing, address text, counters); this file does system calls.
// recvmmsg and sendmmsg are GNU extensions
#define _GNU_SOURCE
#include "poller.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// Datagrams read per wake-up: one JavaScript call per batch; uv_poll is level-triggered, so a
// longer queue wakes us again after the TAP and timers had their turn.
#define RECV_BATCH 64
// Messages per sendmmsg call (the wrapper's ring may hold more; they go in several calls).
#define SEND_BATCH 64
// Datagrams per sendmmsg call: a message may carry a run of them (UDP GSO, below).
#define SEND_SLOTS_PER_CALL 256
// UDP GSO (UDP_SEGMENT): a run of same-sized datagrams to one destination goes down the stack as
// one, and is cut into datagrams at the device (or by its hardware): one route lookup, one pass
// through netfilter, one skb for the run. The kernel takes at most 64 KB and 64 segments a run.
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES 65000
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
// UDP GRO (UDP_GRO), receiving, on sockets opened with it: the kernel hands a run of datagrams
// from one source (a peer's GSO run, or datagrams a network card's GRO merged) to the socket as
// one message with their size in a control message, instead of queueing each on its own; they are
// cut back into slots here, so the wrapper sees datagrams as before. A message holds up to 64 KB.
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#define GRO_MSGS 64
#define GRO_BYTES 65536
// Per datagram, in the shared Int32Arrays: length, port, family (4 or 6), TTL
// (sends only; 0 = the socket's default), then 16 address bytes (IPv4: the first 4).
#define META_INTS 8
#define META_LENGTH 0
#define META_PORT 1
#define META_FAMILY 2
#define META_TTL 3
#define META_ADDRESS 4

typedef struct udp {
  poller_t base;  // first: the poller's finalizer frees the whole struct
  bool v6;        // a dual-stack AF_INET6 socket (IPv4 peers as ::ffff:a.b.c.d), else AF_INET
  size_t slot;    // bytes per datagram slot, receive and send
  uint8_t* recv;  // RECV_BATCH slots (refs[0])
  int32_t* recv_meta;  // RECV_BATCH × META_INTS (refs[1])
  uint8_t* send;       // send_slots slots, the wrapper's ring (refs[2])
  int32_t* send_meta;  // send_slots × META_INTS (refs[3])
  uint32_t send_slots;
  struct mmsghdr rmsg[RECV_BATCH];
  struct iovec riov[RECV_BATCH];
  struct sockaddr_in6 raddr[RECV_BATCH];
  struct mmsghdr smsg[SEND_BATCH];
  struct iovec siov[SEND_SLOTS_PER_CALL];
  struct sockaddr_in6 saddr[SEND_BATCH];
  uint32_t sslots[SEND_BATCH];  // ring slots each message carries
  char scontrol[SEND_BATCH][CMSG_SPACE(sizeof(uint16_t))];
  bool gso;  // off once the kernel refused a run (no checksum offload on the way, an old kernel)
  bool gro;  // UDP_GRO is on: messages are read into gro_buf and cut into the slots
  struct mmsghdr gmsg[GRO_MSGS];
  struct iovec giov[GRO_MSGS];
  struct sockaddr_in6 gaddr[GRO_MSGS];
  char gcontrol[GRO_MSGS][CMSG_SPACE(sizeof(int))];
  double truncated;    // datagrams larger than a slot, dropped
  double send_errors;  // datagrams the kernel refused (no route, firewall, bad address), dropped
  double gro_runs;     // messages that carried more than one datagram (UDP GRO at work)
  int last_send_error;
  uint8_t gro_buf[];  // GRO_MSGS × GRO_BYTES when gro (allocated with the struct, freed with it)
} udp_t;

static bool is_transient(int err) {
  // ICMP errors reported on the socket, a full queue: the socket itself is fine
  return err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNREFUSED || err == EHOSTUNREACH ||
         err == ENETUNREACH || err == ENOBUFS || err == ENOMEM || err == EPERM || err == EACCES;
}

// ---------------------------------------------------------------------------------------------
// Receiving: one recvmmsg per wake-up, one JavaScript call per batch.

static void describe_source(int32_t* meta, const struct sockaddr_in6* from) {
  uint8_t* address = (uint8_t*)(meta + META_ADDRESS);
  if (from->sin6_family == AF_INET) {
    const struct sockaddr_in* v4 = (const struct sockaddr_in*)from;
    meta[META_FAMILY] = 4;
    meta[META_PORT] = ntohs(v4->sin_port);
    memcpy(address, &v4->sin_addr, 4);
  } else if (IN6_IS_ADDR_V4MAPPED(&from->sin6_addr)) {
    meta[META_FAMILY] = 4;
    meta[META_PORT] = ntohs(from->sin6_port);
    memcpy(address, &from->sin6_addr.s6_addr[12], 4);
  } else {
    meta[META_FAMILY] = 6;
    meta[META_PORT] = ntohs(from->sin6_port);
    memcpy(address, &from->sin6_addr, 16);
  }
}

// One recvmmsg into `msgs`; how many arrived, or -1 (nothing now, or a socket error already
// reported to the wrapper, after which nothing more will arrive).
static int read_messages(poller_t* p, struct mmsghdr* msgs, unsigned count) {
  int n;
  do {
    n = recvmmsg(p->fd, msgs, count, MSG_DONTWAIT, NULL);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && !is_transient(errno)) {
    int err = errno;
    poller_set_events(p, 0);
    poller_deliver(p, 0, err);
  }
  return n < 0 ? -1 : n;
}

static void receive_batch(udp_t* u) {
  poller_t* p = &u->base;
  for (int i = 0; i < RECV_BATCH; i++) {
    u->rmsg[i].msg_hdr.msg_namelen = sizeof u->raddr[i];
    u->rmsg[i].msg_hdr.msg_flags = 0;
  }
  int n = read_messages(p, u->rmsg, RECV_BATCH);
  if (n < 0) return;
  for (int i = 0; i < n; i++) {
    int32_t* meta = u->recv_meta + i * META_INTS;
    describe_source(meta, &u->raddr[i]);
    // a datagram larger than a slot arrives cut to the slot: the wrapper's slot is larger than
    // any datagram of ours, so the codec still refuses it (and counts it) as oversized
    if (u->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) u->truncated++;
    meta[META_LENGTH] = (int32_t)u->rmsg[i].msg_len;
  }
  if (n > 0) poller_deliver(p, n, 0);
}

// The datagram at `data` (cut to a slot if larger: the codec then refuses it as oversized) into
// slot `filled`, from `from`.
static void fill_slot(udp_t* u, int filled, const uint8_t* data, size_t length, const struct sockaddr_in6* from) {
  int32_t* meta = u->recv_meta + filled * META_INTS;
  describe_source(meta, from);
  if (length > u->slot) {
    u->truncated++;
    length = u->slot;
  }
  memcpy(u->recv + (size_t)filled * u->slot, data, length);
  meta[META_LENGTH] = (int32_t)length;
}

// With UDP_GRO: one recvmmsg of up to GRO_MSGS messages, each cut into its datagrams (the size in
// its UDP_GRO control message; none: one datagram), delivered RECV_BATCH at a time.
static void receive_gro(udp_t* u) {
  poller_t* p = &u->base;
  for (int i = 0; i < GRO_MSGS; i++) {
    u->gmsg[i].msg_hdr.msg_namelen = sizeof u->gaddr[i];
    u->gmsg[i].msg_hdr.msg_controllen = sizeof u->gcontrol[i];
    u->gmsg[i].msg_hdr.msg_flags = 0;
  }
  int n = read_messages(p, u->gmsg, GRO_MSGS);
  if (n < 0) return;
  int filled = 0;
  for (int i = 0; i < n; i++) {
    struct msghdr* h = &u->gmsg[i].msg_hdr;
    size_t length = u->gmsg[i].msg_len;
    size_t segment = length;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
      if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO) continue;
      int size = 0;
      memcpy(&size, CMSG_DATA(c), sizeof size);
      if (size > 0) segment = (size_t)size;
    }
    if (h->msg_flags & MSG_TRUNC) u->truncated++;  // more than 64 KB: not one of ours
    if (segment < length) u->gro_runs++;
    const uint8_t* data = u->gro_buf + (size_t)i * GRO_BYTES;
    size_t offset = 0;
    do {
      size_t piece = length - offset < segment ? length - offset : segment;
      fill_slot(u, filled++, data + offset, piece, &u->gaddr[i]);
      offset += piece;
      if (filled == RECV_BATCH) {
        poller_deliver(p, filled, 0);
        filled = 0;
        if (p->fd < 0) return;  // closed by the callback
      }
    } while (offset < length && segment > 0);
  }
  if (filled > 0) poller_deliver(p, filled, 0);
}

static void on_event(poller_t* p, int status, int events) {
  udp_t* u = (udp_t*)p;
  if (status < 0) {
    poller_set_events(p, 0);
    poller_deliver(p, 0, -status);
    return;
  }
  if (events & UV_WRITABLE) {
    // the kernel has room again: the wrapper sends what it still holds (count -1)
    poller_set_events(p, UV_READABLE);
    poller_deliver(p, -1, 0);
    if (p->fd < 0) return;  // closed by the callback
  }
  if (events & UV_READABLE) {
    if (u->gro) {
      receive_gro(u);
    } else {
      receive_batch(u);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sending

static void set_ttl(udp_t* u, int ttl) {
  // -1 puts back the system default. A dual-stack socket sends to IPv4 peers with the IPv4 TTL.
  if (u->v6) setsockopt(u->base.fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
  setsockopt(u->base.fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
}

static bool same_destination(const int32_t* a, const int32_t* b) {
  return a[META_PORT] == b[META_PORT] && a[META_FAMILY] == b[META_FAMILY] &&
         memcmp(a + META_ADDRESS, b + META_ADDRESS, a[META_FAMILY] == 6 ? 16 : 4) == 0;
}

static void set_destination(struct msghdr* h, struct sockaddr_in6* to, const int32_t* meta) {
  memset(to, 0, sizeof *to);
  if (meta[META_FAMILY] == 6) {
    to->sin6_family = AF_INET6;
    to->sin6_port = htons((uint16_t)meta[META_PORT]);
    memcpy(&to->sin6_addr, meta + META_ADDRESS, 16);
    h->msg_namelen = sizeof(struct sockaddr_in6);
  } else {
    struct sockaddr_in* v4 = (struct sockaddr_in*)to;
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)meta[META_PORT]);
    memcpy(&v4->sin_addr, meta + META_ADDRESS, 4);
    h->msg_namelen = sizeof(struct sockaddr_in);
  }
  h->msg_name = to;
}

// Builds messages from ring slots [first, first + available) into smsg; returns how many. A
// datagram with a TTL goes alone (and only as the first message: set_ttl applies to the call).
// With GSO, each message takes the longest run of datagrams to one destination whose sizes are
// all equal, but for a shorter last one.
static int build_messages(udp_t* u, uint32_t first, uint32_t available, bool* with_ttl) {
  int k = 0;
  uint32_t used = 0;
  *with_ttl = u->send_meta[(size_t)first * META_INTS + META_TTL] != 0;
  while (k < SEND_BATCH && used < available && used < SEND_SLOTS_PER_CALL) {
    const int32_t* meta = u->send_meta + (size_t)(first + used) * META_INTS;
    if (meta[META_TTL] != 0 && k > 0) break;
    struct msghdr* h = &u->smsg[k].msg_hdr;
    memset(h, 0, sizeof *h);
    set_destination(h, &u->saddr[k], meta);
    h->msg_iov = &u->siov[used];
    size_t segment = (size_t)meta[META_LENGTH];
    size_t bytes = 0;
    uint32_t n = 0;
    do {
      const int32_t* m = u->send_meta + (size_t)(first + used + n) * META_INTS;
      u->siov[used + n].iov_base = u->send + (size_t)(first + used + n) * u->slot;
      u->siov[used + n].iov_len = (size_t)m[META_LENGTH];
      bytes += (size_t)m[META_LENGTH];
      n++;
      if (!u->gso || *with_ttl || (size_t)m[META_LENGTH] != segment) break;  // a shorter one ends a run
      if (used + n >= available || used + n >= SEND_SLOTS_PER_CALL || n >= GSO_MAX_SEGMENTS) break;
      const int32_t* next = m + META_INTS;
      if (next[META_TTL] != 0 || !same_destination(meta, next) || (size_t)next[META_LENGTH] > segment ||
          bytes + (size_t)next[META_LENGTH] > GSO_MAX_BYTES) {
        break;
      }
    } while (true);
    h->msg_iovlen = n;
    if (n > 1) {
      h->msg_control = u->scontrol[k];
      h->msg_controllen = sizeof u->scontrol[k];
      struct cmsghdr* c = CMSG_FIRSTHDR(h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t size = (uint16_t)segment;
      memcpy(CMSG_DATA(c), &size, sizeof size);
    }
    u->sslots[k] = n;
    used += n;
    k++;
    if (*with_ttl) break;
  }
  return k;
}

// Sends the k messages built; returns how many the kernel took, or -errno for the first one.
static int send_messages(udp_t* u, int k) {
  int n;
  do {
    n = sendmmsg(u->base.fd, u->smsg, (unsigned)k, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}

// send(handle, start, count) -> how many ring slots from `start` are done with (sent, or refused
// and counted). Fewer than `count`: the socket's buffer is full; the rest waits for the writable
// callback (count -1). Datagrams with a TTL go alone, with the socket's TTL set around them.
static napi_value udp_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_error(env, "EINVAL", "send", "send(handle, start, count) takes three arguments");
  udp_t* u = (udp_t*)poller_from(env, argv[0], "send");
  if (u == NULL) return NULL;
  uint32_t start = 0, count = 0;
  if (napi_get_value_uint32(env, argv[1], &start) != napi_ok || napi_get_value_uint32(env, argv[2], &count) != napi_ok ||
      start > u->send_slots || count > u->send_slots - start) {
    return throw_error(env, "EINVAL", "send", "send: start and count must lie within the ring");
  }
  uint32_t done = 0;
  bool blocked = false;
  while (done < count && u->base.fd >= 0) {
    bool with_ttl = false;
    int k = build_messages(u, start + done, count - done, &with_ttl);
    if (with_ttl) set_ttl(u, u->send_meta[(size_t)(start + done) * META_INTS + META_TTL]);
    int n = send_messages(u, k);
    if (with_ttl) set_ttl(u, -1);
    if (n == -EAGAIN || n == -EWOULDBLOCK) {
      blocked = true;
      break;
    }
    if (n < 0 && u->sslots[0] > 1 && (n == -EIO || n == -EINVAL || n == -EOPNOTSUPP || n == -ENOPROTOOPT)) {
      u->gso = false;  // the run was refused as a run: send datagram by datagram from now on
      continue;
    }
    if (n < 0) {
      // the first message was refused (no route, a firewall, a bad address): drop it, go on
      u->send_errors += u->sslots[0];
      u->last_send_error = -n;
      done += u->sslots[0];
      continue;
    }
    for (int i = 0; i < n; i++) done += u->sslots[i];  // fewer than k: the next call says why
  }
  if (blocked) poller_set_events(&u->base, UV_READABLE | UV_WRITABLE);
  CHECK_NAPI(env, napi_create_uint32(env, done, &result));
  return result;
}

// ---------------------------------------------------------------------------------------------
// Opening

static napi_value throw_socket_error(napi_env env, int err, const char* syscall, const char* address, uint32_t port) {
  char message[160];
  // as node:dgram words it, so that callers and users see the same text from either transport
  snprintf(message, sizeof message, "%s %s %s:%u", syscall, errno_name(err), address, port);
  return throw_error(env, errno_name(err), syscall, message);
}

static void set_buffer(int fd, int forced, int plain, int bytes) {
  // the FORCE variant (root) goes past net.core.[rw]mem_max; otherwise take what is allowed
  if (setsockopt(fd, SOL_SOCKET, forced, &bytes, sizeof bytes) < 0) setsockopt(fd, SOL_SOCKET, plain, &bytes, sizeof bytes);
}

// open(address, port, bufferBytes, slotBytes, sendSlots[, gro])
//   -> { handle, port, recv, recvMeta, send, sendMeta, recvBatch }
static napi_value udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return throw_error(env, "EINVAL", "open", "open(address, port, bufferBytes, slotBytes, sendSlots) takes five arguments");
  char address[INET6_ADDRSTRLEN];
  size_t address_len = 0;
  uint32_t port = 0, buffer_bytes = 0, slot = 0, send_slots = 0;
  if (napi_get_value_string_utf8(env, argv[0], address, sizeof address, &address_len) != napi_ok ||
      napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535 ||
      napi_get_value_uint32(env, argv[2], &buffer_bytes) != napi_ok || buffer_bytes > INT32_MAX ||
      napi_get_value_uint32(env, argv[3], &slot) != napi_ok || slot == 0 || slot > 65536 ||
      napi_get_value_uint32(env, argv[4], &send_slots) != napi_ok || send_slots == 0 || send_slots > 65536) {
    return throw_error(env, "EINVAL", "open", "open: bad arguments");
  }
  bool want_gro = false;
  if (argc >= 6 && napi_get_value_bool(env, argv[5], &want_gro) != napi_ok) want_gro = false;
  struct sockaddr_in6 bind_to;
  memset(&bind_to, 0, sizeof bind_to);
  socklen_t bind_len;
  bool v6 = strchr(address, ':') != NULL;
  if (v6) {
    bind_to.sin6_family = AF_INET6;
    bind_to.sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, address, &bind_to.sin6_addr) != 1) return throw_socket_error(env, EINVAL, "bind", address, port);
    bind_len = sizeof(struct sockaddr_in6);
  } else {
    struct sockaddr_in* v4 = (struct sockaddr_in*)&bind_to;
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &v4->sin_addr) != 1) return throw_socket_error(env, EINVAL, "bind", address, port);
    bind_len = sizeof(struct sockaddr_in);
  }

  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_socket_error(env, errno, "socket", address, port);
  if (v6) {
    int off = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, (int)buffer_bytes);
  set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, (int)buffer_bytes);
  if (bind(fd, (struct sockaddr*)&bind_to, bind_len) < 0) {
    int err = errno;
    close(fd);
    return throw_socket_error(env, err, "bind", address, port);
  }
  struct sockaddr_in6 bound;
  socklen_t bound_len = sizeof bound;
  getsockname(fd, (struct sockaddr*)&bound, &bound_len);
  uint32_t bound_port = ntohs(bound.sin6_port);  // sin_port sits at the same offset

  // UDP_GRO where the kernel has it (4.18 and later); elsewhere datagrams come one by one, as without
  int one = 1;
  bool gro = want_gro && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
  // the GRO buffer's pages are touched only by what arrives coalesced
  udp_t* u = calloc(1, sizeof *u + (gro ? (size_t)GRO_MSGS * GRO_BYTES : 0));
  if (u == NULL) {
    close(fd);
    return throw_error(env, "ENOMEM", "open", "out of memory");
  }
  u->gro = gro;
  for (int i = 0; gro && i < GRO_MSGS; i++) {
    u->giov[i].iov_base = u->gro_buf + (size_t)i * GRO_BYTES;
    u->giov[i].iov_len = GRO_BYTES;
    u->gmsg[i].msg_hdr.msg_iov = &u->giov[i];
    u->gmsg[i].msg_hdr.msg_iovlen = 1;
    u->gmsg[i].msg_hdr.msg_name = &u->gaddr[i];
    u->gmsg[i].msg_hdr.msg_control = u->gcontrol[i];
  }
  u->base.fd = fd;
  u->v6 = v6;
  u->slot = slot;
  u->send_slots = send_slots;
  u->gso = true;

  napi_value result, handle, recv, recv_meta, recv_meta_buffer, send, send_meta, send_meta_buffer, value;
  void *recv_data = NULL, *recv_meta_data = NULL, *send_data = NULL, *send_meta_data = NULL;
  bool ok =
      napi_create_buffer(env, (size_t)RECV_BATCH * slot, &recv_data, &recv) == napi_ok &&
      napi_create_arraybuffer(env, RECV_BATCH * META_INTS * sizeof(int32_t), &recv_meta_data, &recv_meta_buffer) == napi_ok &&
      napi_create_typedarray(env, napi_int32_array, RECV_BATCH * META_INTS, recv_meta_buffer, 0, &recv_meta) == napi_ok &&
      napi_create_buffer(env, (size_t)send_slots * slot, &send_data, &send) == napi_ok &&
      napi_create_arraybuffer(env, (size_t)send_slots * META_INTS * sizeof(int32_t), &send_meta_data, &send_meta_buffer) == napi_ok &&
      napi_create_typedarray(env, napi_int32_array, (size_t)send_slots * META_INTS, send_meta_buffer, 0, &send_meta) == napi_ok &&
      napi_create_reference(env, recv, 1, &u->base.refs[0]) == napi_ok &&
      napi_create_reference(env, recv_meta, 1, &u->base.refs[1]) == napi_ok &&
      napi_create_reference(env, send, 1, &u->base.refs[2]) == napi_ok &&
      napi_create_reference(env, send_meta, 1, &u->base.refs[3]) == napi_ok;
  u->recv = recv_data;
  u->recv_meta = recv_meta_data;
  u->send = send_data;
  u->send_meta = send_meta_data;
  if (!ok) {
    poller_discard(env, &u->base);
    return throw_error(env, "ENOMEM", "open", "cannot allocate the socket's buffers");
  }
  for (int i = 0; i < RECV_BATCH; i++) {
    u->riov[i].iov_base = u->recv + (size_t)i * slot;
    u->riov[i].iov_len = slot;
    u->rmsg[i].msg_hdr.msg_iov = &u->riov[i];
    u->rmsg[i].msg_hdr.msg_iovlen = 1;
    u->rmsg[i].msg_hdr.msg_name = &u->raddr[i];
  }
  // From here on the poller owns the struct (poller_wrap frees it when it fails).
  if (!poller_wrap(env, &u->base, on_event, "overlan:UdpRead", &handle)) {
    return throw_error(env, "ENOMEM", "open", "cannot allocate the socket's handle");
  }

  CHECK_NAPI(env, napi_create_object(env, &result));
  CHECK_NAPI(env, napi_set_named_property(env, result, "handle", handle));
  CHECK_NAPI(env, napi_create_uint32(env, bound_port, &value));
  CHECK_NAPI(env, napi_set_named_property(env, result, "port", value));
  CHECK_NAPI(env, napi_set_named_property(env, result, "recv", recv));
  CHECK_NAPI(env, napi_set_named_property(env, result, "recvMeta", recv_meta));
  CHECK_NAPI(env, napi_set_named_property(env, result, "send", send));
  CHECK_NAPI(env, napi_set_named_property(env, result, "sendMeta", send_meta));
  return result;
}

// ---------------------------------------------------------------------------------------------
// The rest of the JavaScript API

// start(handle, onBatch: (count: number, error?: string) => void); count -1: writable again.
static napi_value udp_start(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  udp_t* u = (udp_t*)poller_args(env, info, argv, 2, "start");
  if (u == NULL) return NULL;
  return poller_start(env, &u->base, argv[1], UV_READABLE);
}

// close(handle): harmless when already closed.
static napi_value udp_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  udp_t* u = (udp_t*)poller_args(env, info, argv, 1, "close");
  if (u == NULL) return NULL;
  poller_close(&u->base);
  return NULL;
}

// stats(handle) -> { truncated, sendErrors, lastSendError, gso, gro, groRuns }
static napi_value udp_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1], result, value;
  udp_t* u = (udp_t*)poller_args(env, info, argv, 1, "stats");
  if (u == NULL) return NULL;
  CHECK_NAPI(env, napi_create_object(env, &result));
  CHECK_NAPI(env, napi_create_double(env, u->truncated, &value));
  CHECK_NAPI(env, napi_set_named_property(env, result, "truncated", value));
  CHECK_NAPI(env, napi_create_double(env, u->send_errors, &value));
  CHECK_NAPI(env, napi_set_named_property(env, result, "sendErrors", value));
  if (u->last_send_error != 0) {
    CHECK_NAPI(env, napi_create_string_utf8(env, errno_name(u->last_send_error), NAPI_AUTO_LENGTH, &value));
  } else {
    CHECK_NAPI(env, napi_get_null(env, &value));
  }
  CHECK_NAPI(env, napi_set_named_property(env, result, "lastSendError", value));
  CHECK_NAPI(env, napi_get_boolean(env, u->gso, &value));
  CHECK_NAPI(env, napi_set_named_property(env, result, "gso", value));
  CHECK_NAPI(env, napi_get_boolean(env, u->gro, &value));
  CHECK_NAPI(env, napi_set_named_property(env, result, "gro", value));
  CHECK_NAPI(env, napi_create_double(env, u->gro_runs, &value));
  CHECK_NAPI(env, napi_set_named_property(env, result, "groRuns", value));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"open", NULL, udp_open, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, udp_start, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, udp_send, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, udp_close, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, udp_stats, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  napi_value value;
  CHECK_NAPI(env, napi_create_uint32(env, RECV_BATCH, &value));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "recvBatch", value));
  CHECK_NAPI(env, napi_create_uint32(env, META_INTS, &value));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "metaInts", value));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
