// Protocol v2 pair sessions: the handshake initiation and response that set up a Noise IK session
// between two edges, and the session data packet sealed with its transport keys. Each layout starts
// with the common 4-byte header (header.ts) with version 2; docs/PROTOCOL.md "Protocol v2: pair
// sessions" is the prose version of this file.
//
// HANDSHAKE_INIT (initiator → responder; 0x20)
//    0               1               2               3
//   +---------------+---------------+---------------+---------------+
//   |  version = 2  |  type = 0x20  |   flags = 0   |   reserved 0  |  0
//   +---------------+---------------+---------------+---------------+
//   |            sender index (u32, ≠ 0): the initiator's name for   |  4
//   |            this handshake and the session it makes            |
//   +---------------------------------------------------------------+
//   |  Noise IK message 1: ephemeral (32) | static, encrypted (48) | | 8
//   |  payload, encrypted (InitPayload + 16)                        |
//   +---------------------------------------------------------------+
//
// HANDSHAKE_RESPONSE (responder → initiator; 0x21)
//   +---------------+---------------+---------------+---------------+
//   |  version = 2  |  type = 0x21  |   flags = 0   |   reserved 0  |  0
//   +---------------+---------------+---------------+---------------+
//   |                 sender index (u32, ≠ 0): the responder's      |  4
//   +---------------------------------------------------------------+
//   |        receiver index (u32, ≠ 0): the initiation's sender     |  8
//   +---------------------------------------------------------------+
//   |  Noise IK message 2: ephemeral (32) | payload, encrypted      | 12
//   |  (ResponsePayload + 16)                                       |
//   +---------------------------------------------------------------+
//
// SESSION_DATA (either way, once the handshake is done; 0x22)
//   +---------------+---------------+---------------+---------------+
//   |  version = 2  |  type = 0x22  |     kind      |   reserved 0  |  0
//   +---------------+---------------+---------------+---------------+
//   |       receiver index (u32, ≠ 0): the recipient's session      |  4
//   +---------------------------------------------------------------+
//   |        counter (u64, 1 .. 2^53 - 1, per session and sender)   |  8
//   |                                                               |
//   +---------------------------------------------------------------+
//   |  ChaCha20-Poly1305 (IETF) of the payload, 16-byte tag at the  | 16
//   |  end; the 16 header bytes are the associated data, the nonce  |
//   |  is 4 zero bytes ‖ counter (u64 little-endian) as in Noise    |
//   +---------------------------------------------------------------+
//   kind (SessionKind): 0 an Ethernet frame, 1 a path probe, 2 a probe's answer, 3 the sender's
//   broadcast key, 4 a packet of the pair's userspace-stream association (SCTP; stream.ts), 5 a
//   device's end-of-session receipt. It is in the associated data, so nobody can turn one kind into another.
//   An empty frame is a keepalive (it confirms a new session to its responder).
//
// BROADCAST (sender → every member, only inside a RELAY to destination 0; 0x23)
//   +---------------+---------------+---------------+---------------+
//   |  version = 2  |  type = 0x23  |   flags = 0   |   reserved 0  |  0
//   +---------------+---------------+---------------+---------------+
//   |       key ID (u32, ≠ 0): which of the sender's broadcast keys  |  4
//   +---------------------------------------------------------------+
//   |          counter (u64, 1 .. 2^53 - 1, per broadcast key)      |  8
//   |                                                               |
//   +---------------------------------------------------------------+
//   |  ChaCha20-Poly1305 (IETF) of the frame, as SESSION_DATA: the  | 16
//   |  16 header bytes are the associated data, nonce 0⁴ ‖ counter  |
//   +---------------------------------------------------------------+
//   The sender hands each peer its broadcast key inside their pair session (kind 3):
//     key ID (u32, ≠ 0) | key (32) | valid for (u16, seconds: how long after it is replaced it still opens)
//
// Inside the handshake encryption (decoded only after it authenticated):
//   InitPayload:     timestamp (u53, ms: the initiator's clock, strictly increasing per initiator)
//                    | certificate length (u16, 1..300) | certificate
//   ResponsePayload: certificate length (u16, 1..300) | certificate
import { Reader, Writer, readU53, writeU53 } from './cursor.js'
import { HEADER_BYTES, MAX_PACKET_BYTES } from './header.js'
import type { CodecReason } from './reasons.js'

export const SESSION_WIRE_VERSION = 2

export const SessionPacketType = {
  HandshakeInit: 0x20,
  HandshakeResponse: 0x21,
  SessionData: 0x22,
  Broadcast: 0x23,
} as const
export type SessionPacketType = (typeof SessionPacketType)[keyof typeof SessionPacketType]

/** What a SESSION_DATA payload is (its flags byte). */
export const SessionKind = { Frame: 0, Probe: 1, ProbeAck: 2, BroadcastKey: 3, Stream: 4, Receipt: 5 } as const
export type SessionKind = (typeof SessionKind)[keyof typeof SessionKind]
const MAX_SESSION_KIND = SessionKind.Receipt

/** The largest certificate a handshake carries: 300 bytes (issue 12's bound; certificate.ts's are ≤ 249). Opaque here. */
export const MAX_HANDSHAKE_CERTIFICATE_BYTES = 300

const KEY_BYTES = 32
const TAG_BYTES = 16
const TIMESTAMP_BYTES = 8
const CERT_LENGTH_BYTES = 2

export const INIT_PAYLOAD_MIN = TIMESTAMP_BYTES + CERT_LENGTH_BYTES + 1
export const RESPONSE_PAYLOAD_MIN = CERT_LENGTH_BYTES + 1
/** Noise message 1: ephemeral, encrypted static, encrypted payload. */
const NOISE_INIT_MIN = KEY_BYTES + KEY_BYTES + TAG_BYTES + INIT_PAYLOAD_MIN + TAG_BYTES
const NOISE_INIT_MAX = NOISE_INIT_MIN - 1 + MAX_HANDSHAKE_CERTIFICATE_BYTES
/** Noise message 2: ephemeral, encrypted payload. */
const NOISE_RESPONSE_MIN = KEY_BYTES + RESPONSE_PAYLOAD_MIN + TAG_BYTES
const NOISE_RESPONSE_MAX = NOISE_RESPONSE_MIN - 1 + MAX_HANDSHAKE_CERTIFICATE_BYTES

export const INIT_HEADER_BYTES = HEADER_BYTES + 4
export const RESPONSE_HEADER_BYTES = HEADER_BYTES + 8
export const SESSION_HEADER_BYTES = 16
export const SESSION_TAG_BYTES = TAG_BYTES
export const SESSION_OVERHEAD = SESSION_HEADER_BYTES + SESSION_TAG_BYTES
export const MAX_SESSION_PAYLOAD = MAX_PACKET_BYTES - SESSION_OVERHEAD
export const SESSION_RECEIVER_OFFSET = 4
export const SESSION_COUNTER_OFFSET = 8
/** BROADCAST's header is as long as SESSION_DATA's, with the key ID where the receiver index is. */
export const BROADCAST_HEADER_BYTES = SESSION_HEADER_BYTES
export const BROADCAST_OVERHEAD = SESSION_OVERHEAD
export const BROADCAST_KEY_BYTES = 32
export const BROADCAST_KEY_PAYLOAD_BYTES = 4 + BROADCAST_KEY_BYTES + 2

/** Largest session index: a u32 other than 0 (0 means "none"). */
export const MAX_SESSION_INDEX = 0xffffffff

/** Why the session codec refused a datagram or a decrypted payload: a closed set, each a drop counter. */
export const SESSION_CODEC_REASONS = [
  'truncated',
  'oversized',
  'bad-version',
  'unknown-type',
  'nonzero-reserved',
  'trailing-bytes',
  'bad-counter',
  'bad-timestamp',
  'bad-session-index', // a sender or receiver index of 0
  'bad-certificate-length', // 0, or above MAX_HANDSHAKE_CERTIFICATE_BYTES
  'bad-kind', // a SESSION_DATA kind this code does not know
  'bad-key-id', // a broadcast key ID of 0
] as const satisfies readonly (CodecReason | 'bad-session-index' | 'bad-certificate-length' | 'bad-kind' | 'bad-key-id')[]
export type SessionCodecReason = (typeof SESSION_CODEC_REASONS)[number]

export type SessionDecoded<T> = { ok: true; value: T } | { ok: false; reason: SessionCodecReason }

export interface HandshakeInit {
  type: typeof SessionPacketType.HandshakeInit
  senderIndex: number
  /** a view of the datagram: Noise message 1 */
  noise: Buffer
}

export interface HandshakeResponse {
  type: typeof SessionPacketType.HandshakeResponse
  senderIndex: number
  receiverIndex: number
  /** a view of the datagram: Noise message 2 */
  noise: Buffer
}

export interface SessionData {
  type: typeof SessionPacketType.SessionData
  receiverIndex: number
  counter: number
  kind: SessionKind
  /** a view of the datagram: the 16 header bytes, the AEAD's associated data */
  header: Buffer
  ciphertext: Buffer
}

export interface Broadcast {
  type: typeof SessionPacketType.Broadcast
  keyId: number
  counter: number
  /** a view of the datagram: the 16 header bytes, the AEAD's associated data */
  header: Buffer
  ciphertext: Buffer
}

export type SessionPacket = HandshakeInit | HandshakeResponse | SessionData | Broadcast

/** Is this datagram for the v2 session layer? (The version byte alone: v1 packets say 1.) */
export function isSessionPacket(buf: Buffer): boolean {
  return buf.length >= 1 && buf[0] === SESSION_WIRE_VERSION
}

/** The one entry point for untrusted v2 session bytes. Never throws. */
export function decodeSessionPacket(buf: Buffer): SessionDecoded<SessionPacket> {
  if (buf.length > MAX_PACKET_BYTES) return { ok: false, reason: 'oversized' }
  if (buf.length < HEADER_BYTES) return { ok: false, reason: 'truncated' }
  if (buf[0] !== SESSION_WIRE_VERSION) return { ok: false, reason: 'bad-version' }
  const type = buf[1]
  // SESSION_DATA's flags byte is its kind, checked by its reader
  if ((buf[2] !== 0 && type !== SessionPacketType.SessionData) || buf[3] !== 0) return { ok: false, reason: 'nonzero-reserved' }
  switch (type) {
    case SessionPacketType.HandshakeInit:
      return decodeInit(buf)
    case SessionPacketType.HandshakeResponse:
      return decodeResponse(buf)
    case SessionPacketType.SessionData: {
      const header = new SessionDataHeader()
      const reason = readSessionDataHeader(buf, header)
      if (reason !== null) return { ok: false, reason }
      return {
        ok: true,
        value: {
          type: SessionPacketType.SessionData,
          receiverIndex: header.receiverIndex,
          counter: header.counter,
          kind: header.kind,
          header: buf.subarray(0, SESSION_HEADER_BYTES),
          ciphertext: buf.subarray(SESSION_HEADER_BYTES),
        },
      }
    }
    case SessionPacketType.Broadcast: {
      const header = new BroadcastHeader()
      const reason = readBroadcastHeader(buf, header)
      if (reason !== null) return { ok: false, reason }
      return {
        ok: true,
        value: {
          type: SessionPacketType.Broadcast,
          keyId: header.keyId,
          counter: header.counter,
          header: buf.subarray(0, BROADCAST_HEADER_BYTES),
          ciphertext: buf.subarray(BROADCAST_HEADER_BYTES),
        },
      }
    }
    default:
      return { ok: false, reason: 'unknown-type' }
  }
}

/** The Noise message's length must be one a certificate of 1..300 bytes gives. */
function noiseLength(length: number, min: number, max: number): SessionCodecReason | null {
  if (length < min) return 'truncated'
  if (length > max) return 'oversized'
  return null
}

function decodeInit(buf: Buffer): SessionDecoded<HandshakeInit> {
  if (buf.length < INIT_HEADER_BYTES) return { ok: false, reason: 'truncated' }
  const senderIndex = buf.readUInt32BE(4)
  if (senderIndex === 0) return { ok: false, reason: 'bad-session-index' }
  const reason = noiseLength(buf.length - INIT_HEADER_BYTES, NOISE_INIT_MIN, NOISE_INIT_MAX)
  if (reason !== null) return { ok: false, reason }
  return { ok: true, value: { type: SessionPacketType.HandshakeInit, senderIndex, noise: buf.subarray(INIT_HEADER_BYTES) } }
}

function decodeResponse(buf: Buffer): SessionDecoded<HandshakeResponse> {
  if (buf.length < RESPONSE_HEADER_BYTES) return { ok: false, reason: 'truncated' }
  const senderIndex = buf.readUInt32BE(4)
  const receiverIndex = buf.readUInt32BE(8)
  if (senderIndex === 0 || receiverIndex === 0) return { ok: false, reason: 'bad-session-index' }
  const reason = noiseLength(buf.length - RESPONSE_HEADER_BYTES, NOISE_RESPONSE_MIN, NOISE_RESPONSE_MAX)
  if (reason !== null) return { ok: false, reason }
  return {
    ok: true,
    value: { type: SessionPacketType.HandshakeResponse, senderIndex, receiverIndex, noise: buf.subarray(RESPONSE_HEADER_BYTES) },
  }
}

function header(w: Writer, type: SessionPacketType): Writer {
  return w.u8(SESSION_WIRE_VERSION).u8(type).u8(0).u8(0)
}

function checkIndex(name: string, index: number): void {
  if (!Number.isInteger(index) || index < 1 || index > MAX_SESSION_INDEX) throw new RangeError(`${name} must be 1..2^32-1, got ${index}`)
}

export function encodeHandshakeInit(senderIndex: number, noise: Uint8Array): Buffer {
  checkIndex('senderIndex', senderIndex)
  if (noise.length < NOISE_INIT_MIN || noise.length > NOISE_INIT_MAX) throw new RangeError(`Noise message 1 must be ${NOISE_INIT_MIN}..${NOISE_INIT_MAX} bytes, got ${noise.length}`)
  return header(new Writer(INIT_HEADER_BYTES + noise.length), SessionPacketType.HandshakeInit).u32(senderIndex).bytes(noise).done()
}

export function encodeHandshakeResponse(senderIndex: number, receiverIndex: number, noise: Uint8Array): Buffer {
  checkIndex('senderIndex', senderIndex)
  checkIndex('receiverIndex', receiverIndex)
  if (noise.length < NOISE_RESPONSE_MIN || noise.length > NOISE_RESPONSE_MAX) {
    throw new RangeError(`Noise message 2 must be ${NOISE_RESPONSE_MIN}..${NOISE_RESPONSE_MAX} bytes, got ${noise.length}`)
  }
  return header(new Writer(RESPONSE_HEADER_BYTES + noise.length), SessionPacketType.HandshakeResponse).u32(senderIndex).u32(receiverIndex).bytes(noise).done()
}

/** A whole SESSION_DATA datagram from its parts (tests and re-encoding; the hot path writes in place). */
export function encodeSessionData(receiverIndex: number, counter: number, ciphertext: Uint8Array, kind: SessionKind = SessionKind.Frame): Buffer {
  if (ciphertext.length < SESSION_TAG_BYTES || ciphertext.length > MAX_PACKET_BYTES - SESSION_HEADER_BYTES) {
    throw new RangeError(`ciphertext must be ${SESSION_TAG_BYTES}..${MAX_PACKET_BYTES - SESSION_HEADER_BYTES} bytes, got ${ciphertext.length}`)
  }
  const buf = Buffer.alloc(SESSION_HEADER_BYTES + ciphertext.length)
  writeSessionDataHeader(buf, receiverIndex, counter, kind)
  buf.set(ciphertext, SESSION_HEADER_BYTES)
  return buf
}

/** A whole BROADCAST datagram from its parts (tests and re-encoding; the hot path writes in place). */
export function encodeBroadcast(keyId: number, counter: number, ciphertext: Uint8Array): Buffer {
  if (ciphertext.length < SESSION_TAG_BYTES || ciphertext.length > MAX_PACKET_BYTES - BROADCAST_HEADER_BYTES) {
    throw new RangeError(`ciphertext must be ${SESSION_TAG_BYTES}..${MAX_PACKET_BYTES - BROADCAST_HEADER_BYTES} bytes, got ${ciphertext.length}`)
  }
  const buf = Buffer.alloc(BROADCAST_HEADER_BYTES + ciphertext.length)
  writeBroadcastHeader(buf, keyId, counter)
  buf.set(ciphertext, BROADCAST_HEADER_BYTES)
  return buf
}

/** Reused for every data packet: read a header into it, act on it, read the next one into it. */
export class SessionDataHeader {
  receiverIndex = 0
  counter = 0
  kind: SessionKind = SessionKind.Frame
}

/** Reused for every broadcast: read a header into it, act on it, read the next one into it. */
export class BroadcastHeader {
  keyId = 0
  counter = 0
}

/** Reads and checks a SESSION_DATA header into `out` (nothing allocated). Null when well formed, else the reason. */
export function readSessionDataHeader(buf: Buffer, out: SessionDataHeader): SessionCodecReason | null {
  if (buf.length > MAX_PACKET_BYTES) return 'oversized'
  if (buf.length < SESSION_OVERHEAD) return 'truncated'
  if (buf[0] !== SESSION_WIRE_VERSION) return 'bad-version'
  if (buf[1] !== SessionPacketType.SessionData) return 'unknown-type'
  if (buf[3] !== 0) return 'nonzero-reserved'
  const kind = buf[2]!
  if (kind > MAX_SESSION_KIND) return 'bad-kind'
  const receiverIndex = buf.readUInt32BE(SESSION_RECEIVER_OFFSET)
  if (receiverIndex === 0) return 'bad-session-index'
  const counter = readU53(buf, SESSION_COUNTER_OFFSET)
  if (counter <= 0) return 'bad-counter'
  out.receiverIndex = receiverIndex
  out.counter = counter
  out.kind = kind as SessionKind
  return null
}

/** Writes the 16-byte SESSION_DATA header at the start of `buf` (which the caller owns and reuses). */
export function writeSessionDataHeader(buf: Buffer, receiverIndex: number, counter: number, kind: SessionKind = SessionKind.Frame): void {
  checkIndex('receiverIndex', receiverIndex)
  buf[0] = SESSION_WIRE_VERSION
  buf[1] = SessionPacketType.SessionData
  buf[2] = kind
  buf[3] = 0
  buf.writeUInt32BE(receiverIndex, SESSION_RECEIVER_OFFSET)
  writeU53(buf, SESSION_COUNTER_OFFSET, counter)
}

/** Reads and checks a BROADCAST header into `out` (nothing allocated). Null when well formed, else the reason. */
export function readBroadcastHeader(buf: Buffer, out: BroadcastHeader): SessionCodecReason | null {
  if (buf.length > MAX_PACKET_BYTES) return 'oversized'
  if (buf.length < BROADCAST_OVERHEAD) return 'truncated'
  if (buf[0] !== SESSION_WIRE_VERSION) return 'bad-version'
  if (buf[1] !== SessionPacketType.Broadcast) return 'unknown-type'
  if (buf[2] !== 0 || buf[3] !== 0) return 'nonzero-reserved'
  const keyId = buf.readUInt32BE(SESSION_RECEIVER_OFFSET)
  if (keyId === 0) return 'bad-key-id'
  const counter = readU53(buf, SESSION_COUNTER_OFFSET)
  if (counter <= 0) return 'bad-counter'
  out.keyId = keyId
  out.counter = counter
  return null
}

/** Writes the 16-byte BROADCAST header at the start of `buf`. */
export function writeBroadcastHeader(buf: Buffer, keyId: number, counter: number): void {
  if (!Number.isInteger(keyId) || keyId < 1 || keyId > MAX_SESSION_INDEX) throw new RangeError(`keyId must be 1..2^32-1, got ${keyId}`)
  buf[0] = SESSION_WIRE_VERSION
  buf[1] = SessionPacketType.Broadcast
  buf[2] = 0
  buf[3] = 0
  buf.writeUInt32BE(keyId, SESSION_RECEIVER_OFFSET)
  writeU53(buf, SESSION_COUNTER_OFFSET, counter)
}

// ---- the payload of a SESSION_DATA of kind BroadcastKey ----

export interface BroadcastKeyPayload {
  keyId: number
  /** a view of the decrypted payload: copy it into secret memory at once */
  key: Buffer
  /** seconds the key still opens broadcasts after its sender has replaced it */
  validForSeconds: number
}

export function encodeBroadcastKeyPayload(out: Buffer, keyId: number, key: Uint8Array, validForSeconds: number): Buffer {
  if (!Number.isInteger(keyId) || keyId < 1 || keyId > MAX_SESSION_INDEX) throw new RangeError(`keyId must be 1..2^32-1, got ${keyId}`)
  if (key.length !== BROADCAST_KEY_BYTES) throw new RangeError(`a broadcast key is ${BROADCAST_KEY_BYTES} bytes`)
  out.writeUInt32BE(keyId, 0)
  out.set(key, 4)
  out.writeUInt16BE(validForSeconds, 4 + BROADCAST_KEY_BYTES)
  return out.subarray(0, BROADCAST_KEY_PAYLOAD_BYTES)
}

export function decodeBroadcastKeyPayload(buf: Buffer): SessionDecoded<BroadcastKeyPayload> {
  if (buf.length < BROADCAST_KEY_PAYLOAD_BYTES) return { ok: false, reason: 'truncated' }
  if (buf.length > BROADCAST_KEY_PAYLOAD_BYTES) return { ok: false, reason: 'trailing-bytes' }
  const keyId = buf.readUInt32BE(0)
  if (keyId === 0) return { ok: false, reason: 'bad-key-id' }
  return { ok: true, value: { keyId, key: buf.subarray(4, 4 + BROADCAST_KEY_BYTES), validForSeconds: buf.readUInt16BE(4 + BROADCAST_KEY_BYTES) } }
}

// ---- the payloads inside the handshake encryption ----

export interface InitPayload {
  timestamp: number
  certificate: Buffer
}

function checkCertificate(certificate: Uint8Array): void {
  if (certificate.length < 1 || certificate.length > MAX_HANDSHAKE_CERTIFICATE_BYTES) {
    throw new RangeError(`certificate must be 1..${MAX_HANDSHAKE_CERTIFICATE_BYTES} bytes, got ${certificate.length}`)
  }
}

export function encodeInitPayload(timestamp: number, certificate: Uint8Array): Buffer {
  checkCertificate(certificate)
  return new Writer(TIMESTAMP_BYTES + CERT_LENGTH_BYTES + certificate.length).u53(timestamp).u16(certificate.length).bytes(certificate).done()
}

export function encodeResponsePayload(certificate: Uint8Array): Buffer {
  checkCertificate(certificate)
  return new Writer(CERT_LENGTH_BYTES + certificate.length).u16(certificate.length).bytes(certificate).done()
}

function readCertificate(r: Reader): { certificate: Buffer; reason: SessionCodecReason | null } {
  const length = r.u16()
  if (r.reason === null && (length < 1 || length > MAX_HANDSHAKE_CERTIFICATE_BYTES)) return { certificate: Buffer.alloc(0), reason: 'bad-certificate-length' }
  return { certificate: r.bytes(length), reason: null }
}

export function decodeInitPayload(buf: Buffer): SessionDecoded<InitPayload> {
  const r = new Reader(buf)
  const timestamp = r.u53('bad-timestamp')
  const { certificate, reason: certReason } = readCertificate(r)
  if (certReason !== null) return { ok: false, reason: certReason }
  const reason = r.finish()
  if (reason !== null) return { ok: false, reason: reason as SessionCodecReason }
  return { ok: true, value: { timestamp, certificate } }
}

export function decodeResponsePayload(buf: Buffer): SessionDecoded<Buffer> {
  const r = new Reader(buf)
  const { certificate, reason: certReason } = readCertificate(r)
  if (certReason !== null) return { ok: false, reason: certReason }
  const reason = r.finish()
  if (reason !== null) return { ok: false, reason: reason as SessionCodecReason }
  return { ok: true, value: certificate }
}
