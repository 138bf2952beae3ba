// Control packets between edges and supernodes: registration, keepalive, brokering, errors.
// Each type has one encoder and one decoder here; byte layouts are in docs/PROTOCOL.md.
// These are not the hot path: decoded packets are plain objects with Buffer views.
import { readAnnouncement, type Announcement } from './announcement.js'
import { Reader, Writer } from './cursor.js'
import { ENDPOINT_BYTES, OVERLAY_BYTES, SIGNATURE_BYTES, readEndpoint, readOverlay, writeEndpoint, writeOverlay, type Endpoint, type OverlayAddress } from './fields.js'
import { HEADER_BYTES, OLD_WIRE_VERSION, PacketType, WIRE_VERSION } from './header.js'
import type { EnrollPacket } from './enroll.js'
import { REVOCATION_BYTES, decodeRevocation, type Revocation } from './revocation.js'

export const NONCE_BYTES = 8
/** A cookie is a 4-byte timestamp (seconds) and a 16-byte keyed BLAKE2b MAC. */
export const COOKIE_BYTES = 20
/** HELLO is padded to this size so that COOKIE (59 bytes) is smaller than what asked for it. */
export const HELLO_BYTES = 64
/** COOKIE ends with the supernode's wall-clock time (u64, ms since the epoch): edges and netcheck report clock skew from it. */
export const COOKIE_PACKET_BYTES = HEADER_BYTES + NONCE_BYTES + COOKIE_BYTES + ENDPOINT_BYTES + 8
export const KEEPALIVE_BYTES = HEADER_BYTES + 8 + 8
export const PEER_QUERY_BYTES = HEADER_BYTES + 8 + 8
export const DEREGISTER_BYTES = HEADER_BYTES + 8 + 8 + SIGNATURE_BYTES
/** ERROR: the header, a proof (8) and a subject (8); see ErrorPacket. */
export const ERROR_BYTES = HEADER_BYTES + 8 + 8
/** REGISTER_ACK ends with the supernode's wall clock (u53 ms): the edge shows its clock skew, which certificates' validity depends on. */
export const REGISTER_ACK_BYTES = HEADER_BYTES + 8 + 8 + ENDPOINT_BYTES + OVERLAY_BYTES + 2 + 8
export const REVOCATION_PACKET_BYTES = HEADER_BYTES + REVOCATION_BYTES

export interface Hello {
  type: typeof PacketType.Hello
  clientNonce: Buffer
}
export interface Cookie {
  type: typeof PacketType.Cookie
  clientNonce: Buffer
  cookie: Buffer
  reflexive: Endpoint
  /** the supernode's wall clock when it answered, ms since the epoch (clock skew = this − local time − RTT/2) */
  serverTimeMs: number
}
export interface Register {
  type: typeof PacketType.Register
  clientNonce: Buffer
  cookie: Buffer
  announcement: Announcement
}
export interface RegisterAck {
  type: typeof PacketType.RegisterAck
  edgeId: number
  /** the timestamp of the announcement this acknowledges */
  timestamp: number
  reflexive: Endpoint
  /** the address the supernode assigned (to a certificate without IPv4), or the certificate's */
  overlay: OverlayAddress | null
  keepaliveSeconds: number
  /** the supernode's wall clock when it answered, ms since the epoch */
  serverTimeMs: number
}
export interface Keepalive {
  type: typeof PacketType.Keepalive | typeof PacketType.KeepaliveAck
  edgeId: number
  seq: number
}

export const QueryKind = { Edge: 1, Mac: 2, IPv4: 3 } as const
export type PeerTarget = { kind: 'edge'; edgeId: number } | { kind: 'mac'; mac: Buffer } | { kind: 'ipv4'; address: Buffer }

export interface PeerQuery {
  type: typeof PacketType.PeerQuery
  senderId: number
  target: PeerTarget
}
/** PEER_INFO / PUNCH_REQUEST flag: the peer reaches the supernode over a WebSocket, not UDP. */
export const PEER_INFO_RELAY_ONLY = 0x01

export interface PeerInfo {
  type: typeof PacketType.PeerInfo | typeof PacketType.PunchRequest
  /**
   * the peer's public address as the supernode sees it; when `relayOnly`, the address and TCP port
   * of its WebSocket connection: shown, never probed (no UDP endpoint of the peer is known there)
   */
  reflexive: Endpoint
  /** the peer is registered over a WebSocket: reachable through the relay, or at its announcement's LAN candidates */
  relayOnly: boolean
  /** the peer's announcement as it registered it: certificate, candidates, member signature */
  announcement: Announcement
}
export interface Deregister {
  type: typeof PacketType.Deregister
  edgeId: number
  timestamp: number
  signature: Buffer
}

export const ErrorCode = {
  RateLimited: 1,
  TooManyCommunities: 2,
  CommunityFull: 3,
  BadCookie: 4,
  BadSignature: 5,
  /** the supernode does not know this edge at this address: register again */
  UnknownEdge: 6,
  MacInUse: 7,
  AddressInUse: 8,
  NoFreeAddress: 9,
  UnknownPeer: 10,
  StaleRecord: 11,
  /** the supernode holds its maximum of edges (all communities together) */
  SupernodeFull: 12,
  /** this source endpoint (address and port) holds its maximum of edges */
  EndpointFull: 13,
  /** this source address (an IPv6 /64 as one) holds its maximum of edges */
  AddressFull: 14,
  /** the certificate is past its notAfter by the supernode's clock (also sent when it unregisters an edge then) */
  CertificateExpired: 15,
  /** the authority revoked the certificate (also sent when a revocation removes a registered edge) */
  CertificateRevoked: 16,
  /** the certificate's notBefore is ahead of the supernode's clock by more than the tolerance */
  CertificateNotYetValid: 17,
  /** the certificate's authority signature does not verify */
  BadCertificate: 18,
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]
const ERROR_CODES = new Set<number>(Object.values(ErrorCode))

/** The name PROTOCOL.md uses: "unknown-edge" for ErrorCode.UnknownEdge. */
export function errorCodeName(code: ErrorCode): string {
  for (const [name, value] of Object.entries(ErrorCode)) if (value === code) return name.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? '' : '-') + c.toLowerCase())
  /* c8 ignore next */
  return String(code)
}

/**
 * A refusal, tied to the packet it answers by a value an off-path sender cannot guess:
 * `proof` is the client nonce of the REGISTER it refuses, the sequence of the KEEPALIVE it answers
 * (edges start those at a random 48-bit value per registration), or for an edge registered from
 * this endpoint the client nonce of its registration. All zero: the supernode has nothing to prove
 * with (it does not know the sender); an edge takes such an ERROR as a hint to check, never as a
 * reason to change state. `subject` says what it is about: the edge ID (unknown-edge), the peer
 * asked for or relayed to (unknown-peer: an edge ID, or a MAC or IPv4 address as the query's
 * target field), else zero.
 */
export interface ErrorPacket {
  type: typeof PacketType.Error
  code: ErrorCode
  proof: Buffer
  subject: Buffer
}

/** The 8-byte proof that proves nothing: an ERROR carrying it is a hint (see ErrorPacket). */
export const NO_PROOF: Buffer = Buffer.alloc(8)
/** The subject of an ERROR about nothing in particular (a refused REGISTER). */
export const NO_SUBJECT: Buffer = NO_PROOF

export interface RevocationPacket {
  type: typeof PacketType.Revocation
  /** a view of the packet: copy `revocation.bytes` to keep it */
  revocation: Revocation
}

export type ControlPacket = Hello | Cookie | Register | RegisterAck | Keepalive | PeerQuery | PeerInfo | Deregister | ErrorPacket | RevocationPacket | EnrollPacket

function header(w: Writer, type: number, flags = 0, version = WIRE_VERSION): Writer {
  return w.u8(version).u8(type).u8(flags).u8(0)
}

// ---- encoders ----------------------------------------------------------------------------

/** `version` OLD_WIRE_VERSION: the probe a v2 edge sends to learn whether a silent supernode is a v1 one. */
export function encodeHello(clientNonce: Buffer, version = WIRE_VERSION): Buffer {
  const w = header(new Writer(HELLO_BYTES), PacketType.Hello, 0, version).bytes(clientNonce, NONCE_BYTES)
  return w.skip(HELLO_BYTES - w.pos).done()
}

/** `version` OLD_WIRE_VERSION: the answer to a v1 HELLO (the same layout), which tells a v2 edge's probe what it met. */
export function encodeCookie(clientNonce: Buffer, cookie: Buffer, reflexive: Endpoint, serverTimeMs: number, version = WIRE_VERSION): Buffer {
  const w = header(new Writer(COOKIE_PACKET_BYTES), PacketType.Cookie, 0, version).bytes(clientNonce, NONCE_BYTES).bytes(cookie, COOKIE_BYTES)
  writeEndpoint(w, reflexive)
  return w.u53(serverTimeMs).done()
}

/** A HELLO of protocol v1 (its layout is v2's): a supernode answers it with a v1 COOKIE. */
export function isOldProtocolHello(msg: Buffer): boolean {
  return msg.length === HELLO_BYTES && msg[0] === OLD_WIRE_VERSION && msg[1] === PacketType.Hello
}

/** A HELLO of protocol v1, read as v2 reads its own (same layout, padding zero); null when `msg` is no such HELLO. */
export function decodeOldProtocolHello(msg: Buffer): Hello | null {
  if (!isOldProtocolHello(msg) || msg[2] !== 0 || msg[3] !== 0) return null
  const r = new Reader(msg)
  r.bytes(HEADER_BYTES) // checked by isOldProtocolHello
  const hello = readHello(r)
  return r.finish() === null ? hello : null
}

/** A COOKIE of protocol v1: the supernode that sent it speaks only v1 (overlan 0.1). Its client nonce is at HEADER_BYTES. */
export function isOldProtocolCookie(msg: Buffer): boolean {
  return msg.length === COOKIE_PACKET_BYTES && msg[0] === OLD_WIRE_VERSION && msg[1] === PacketType.Cookie
}

/** The client nonce of a v1 COOKIE (a view), which a v2 edge compares with its probe's; null for anything else. */
export function oldProtocolCookieNonce(msg: Buffer): Buffer | null {
  return isOldProtocolCookie(msg) ? msg.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES) : null
}

export function encodeRegister(clientNonce: Buffer, cookie: Buffer, announcement: Buffer): Buffer {
  return header(new Writer(HEADER_BYTES + NONCE_BYTES + COOKIE_BYTES + announcement.length), PacketType.Register)
    .bytes(clientNonce, NONCE_BYTES)
    .bytes(cookie, COOKIE_BYTES)
    .bytes(announcement)
    .done()
}

export function encodeRegisterAck(ack: Omit<RegisterAck, 'type'>): Buffer {
  const w = header(new Writer(REGISTER_ACK_BYTES), PacketType.RegisterAck).u53(ack.edgeId).u53(ack.timestamp)
  writeEndpoint(w, ack.reflexive)
  writeOverlay(w, ack.overlay)
  return w.u16(ack.keepaliveSeconds).u53(ack.serverTimeMs).done()
}

/** A REVOCATION packet around the 144 bytes of a signed revocation (revocation.ts). */
export function encodeRevocationPacket(revocation: Uint8Array): Buffer {
  if (revocation.length !== REVOCATION_BYTES) throw new RangeError(`a revocation is ${REVOCATION_BYTES} bytes, got ${revocation.length}`)
  return header(new Writer(REVOCATION_PACKET_BYTES), PacketType.Revocation).bytes(revocation).done()
}

export function encodeKeepalive(type: Keepalive['type'], edgeId: number, seq: number): Buffer {
  return header(new Writer(KEEPALIVE_BYTES), type).u53(edgeId).u53(seq).done()
}

export function encodePeerQuery(senderId: number, target: PeerTarget): Buffer {
  const kind = target.kind === 'edge' ? QueryKind.Edge : target.kind === 'mac' ? QueryKind.Mac : QueryKind.IPv4
  const w = header(new Writer(PEER_QUERY_BYTES), PacketType.PeerQuery, kind).u53(senderId)
  if (target.kind === 'edge') w.u53(target.edgeId)
  else if (target.kind === 'mac') w.bytes(target.mac, 6).skip(2)
  else w.bytes(target.address, 4).skip(4)
  return w.done()
}

export function encodePeerInfo(type: PeerInfo['type'], reflexive: Endpoint, announcement: Buffer, relayOnly = false): Buffer {
  const w = header(new Writer(HEADER_BYTES + ENDPOINT_BYTES + announcement.length), type, relayOnly ? PEER_INFO_RELAY_ONLY : 0)
  writeEndpoint(w, reflexive)
  return w.bytes(announcement).done()
}

export function encodeDeregister(edgeId: number, timestamp: number, signature: Buffer): Buffer {
  return header(new Writer(DEREGISTER_BYTES), PacketType.Deregister).u53(edgeId).u53(timestamp).bytes(signature, SIGNATURE_BYTES).done()
}

/** The bytes a DEREGISTER signature covers (after the "overlan-deregister-v1" context). */
export function deregisterSignedBytes(edgeId: number, timestamp: number): Buffer {
  return new Writer(16).u53(edgeId).u53(timestamp).done()
}

export function encodeError(code: ErrorCode, proof: Buffer, subject: Buffer): Buffer {
  return header(new Writer(ERROR_BYTES), PacketType.Error, code).bytes(proof, 8).bytes(subject, 8).done()
}

/**
 * The proof a rate-limited ERROR echoes, read from a datagram the supernode refuses before
 * decoding it: the client nonce of a REGISTER, the sequence of a KEEPALIVE, else none (a copy: the
 * datagram's buffer is reused once the receive call returns).
 */
export function rateLimitedProof(msg: Buffer): Buffer {
  if (msg[1] === PacketType.Register && msg.length >= HEADER_BYTES + NONCE_BYTES) return Buffer.from(msg.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES))
  if (msg[1] === PacketType.Keepalive && msg.length >= KEEPALIVE_BYTES) return Buffer.from(msg.subarray(KEEPALIVE_BYTES - 8, KEEPALIVE_BYTES))
  return NO_PROOF
}

// ---- decoders ----------------------------------------------------------------------------
// Each reads the body after the 4-byte header (whose version and type the dispatcher checked)
// and leaves any failure in r.reason.

export function readHello(r: Reader): Hello {
  const clientNonce = r.bytes(NONCE_BYTES)
  r.zero(HELLO_BYTES - HEADER_BYTES - NONCE_BYTES)
  return { type: PacketType.Hello, clientNonce }
}

export function readCookie(r: Reader): Cookie {
  const clientNonce = r.bytes(NONCE_BYTES)
  const cookie = r.bytes(COOKIE_BYTES)
  const reflexive = readEndpoint(r)
  return { type: PacketType.Cookie, clientNonce, cookie, reflexive, serverTimeMs: r.u53('bad-timestamp') }
}

export function readRegister(r: Reader): Register {
  const clientNonce = r.bytes(NONCE_BYTES)
  const cookie = r.bytes(COOKIE_BYTES)
  return { type: PacketType.Register, clientNonce, cookie, announcement: readAnnouncement(r) }
}

export function readRegisterAck(r: Reader): RegisterAck {
  const edgeId = readEdgeId(r)
  const timestamp = r.u53('bad-timestamp')
  const reflexive = readEndpoint(r)
  const overlay = readOverlay(r)
  const keepaliveSeconds = r.u16()
  return { type: PacketType.RegisterAck, edgeId, timestamp, reflexive, overlay, keepaliveSeconds, serverTimeMs: r.u53('bad-timestamp') }
}

export function readKeepalive(r: Reader, type: Keepalive['type']): Keepalive {
  const edgeId = readEdgeId(r)
  return { type, edgeId, seq: r.u53('bad-counter') }
}

export function readPeerQuery(r: Reader, kind: number): PeerQuery {
  const senderId = readEdgeId(r)
  let target: PeerTarget
  if (kind === QueryKind.Edge) {
    target = { kind: 'edge', edgeId: readEdgeId(r) }
  } else if (kind === QueryKind.Mac) {
    target = { kind: 'mac', mac: r.bytes(6) }
    r.zero(2)
  } else if (kind === QueryKind.IPv4) {
    target = { kind: 'ipv4', address: r.bytes(4) }
    r.zero(4)
  } else {
    r.fail('bad-query-kind')
    target = { kind: 'edge', edgeId: 0 }
  }
  return { type: PacketType.PeerQuery, senderId, target }
}

export function readPeerInfo(r: Reader, type: PeerInfo['type'], flags: number): PeerInfo {
  if ((flags & ~PEER_INFO_RELAY_ONLY) !== 0) r.fail('nonzero-reserved')
  const reflexive = readEndpoint(r)
  return { type, reflexive, relayOnly: flags === PEER_INFO_RELAY_ONLY, announcement: readAnnouncement(r) }
}

export function readDeregister(r: Reader): Deregister {
  const edgeId = readEdgeId(r)
  const timestamp = r.u53('bad-timestamp')
  return { type: PacketType.Deregister, edgeId, timestamp, signature: r.bytes(SIGNATURE_BYTES) }
}

export function readError(r: Reader, code: number): ErrorPacket {
  if (!ERROR_CODES.has(code)) r.fail('bad-error-code')
  const proof = r.bytes(8)
  return { type: PacketType.Error, code: code as ErrorCode, proof, subject: r.bytes(8) }
}

export function readRevocationPacket(r: Reader): RevocationPacket {
  const bytes = r.bytes(REVOCATION_BYTES)
  if (r.reason !== null) return { type: PacketType.Revocation, revocation: NO_REVOCATION }
  const decoded = decodeRevocation(bytes)
  if (decoded.ok) return { type: PacketType.Revocation, revocation: decoded.value }
  r.fail('bad-revocation')
  return { type: PacketType.Revocation, revocation: NO_REVOCATION }
}

/** Stands in for a revocation that did not decode (never handed out: the reader has failed). */
const NO_REVOCATION: Revocation = {
  format: 2,
  cause: 0,
  serial: 0,
  fingerprint: Buffer.alloc(0),
  notAfter: 0,
  revokedAt: 0,
  authorityKey: Buffer.alloc(0),
  signature: Buffer.alloc(0),
  body: Buffer.alloc(0),
  bytes: Buffer.alloc(0),
}

function readEdgeId(r: Reader): number {
  const id = r.u53('bad-edge-id')
  if (r.reason === null && id === 0) r.fail('bad-edge-id')
  return id
}
