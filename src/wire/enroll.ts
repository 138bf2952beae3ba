// ENROLL (0x0d): a technician's edge, which has no certificate yet, asks the device's edge for one
// through the supernode. The supernode forwards the enrollment handshake (src/crypto/enrollment.ts)
// without opening it; the header's flags byte says which leg of the trip a packet is on:
//
//   ask    technician → supernode   client nonce (8) | cookie (20) | community ID (16) |
//                                   device edge ID (8, not 0) | exchange (8) | step (1) | message
//   offer  supernode → device       technician's endpoint as seen (19) | exchange (8) | step (1) | message
//   answer device → supernode       device edge ID (8, not 0) | exchange (8) | step (1) | message
//   reply  supernode → technician   exchange (8) | step (1) | message
//
// The exchange is 8 random bytes the technician picks per handshake: the supernode sends a reply
// only to the address that asked under it, the device keeps one handshake per exchange. The step
// says what the message is (the handshake's three messages, then sealed polls and answers); the
// message (1..MAX_ENROLL_MESSAGE_BYTES) is opaque to the codec.
import { Reader, Writer } from './cursor.js'
import { ENDPOINT_BYTES, isValidName, readEndpoint, writeEndpoint, type Endpoint } from './fields.js'
import { HEADER_BYTES, MAX_PACKET_BYTES, PacketType, WIRE_VERSION } from './header.js'
import type { Decoded } from './reasons.js'

export const EnrollKind = { Ask: 1, Offer: 2, Answer: 3, Reply: 4 } as const
export type EnrollKind = (typeof EnrollKind)[keyof typeof EnrollKind]

export const EnrollStep = {
  /** technician → device: Noise XXpsk0 message 1 (-> psk, e) */
  Hello: 1,
  /** device → technician: message 2 (<- e, ee, s, es) */
  Challenge: 2,
  /** technician → device: message 3 (-> s, se), carrying the request (name, timestamp) */
  Request: 3,
  /** either way after the handshake: counter (8) ‖ ChaCha20-Poly1305 of a poll or an answer */
  Sealed: 4,
} as const
export type EnrollStep = (typeof EnrollStep)[keyof typeof EnrollStep]

export const EXCHANGE_BYTES = 8
/** The community ID as communityIdOf makes it (crypto/keys.ts COMMUNITY_ID_BYTES) */
export const ENROLL_COMMUNITY_BYTES = 16
const ASK_FIXED_BYTES = HEADER_BYTES + 8 + 20 + ENROLL_COMMUNITY_BYTES + 8 + EXCHANGE_BYTES + 1
const OFFER_FIXED_BYTES = HEADER_BYTES + ENDPOINT_BYTES + EXCHANGE_BYTES + 1
/** The longest message: what fits in the longest leg (ask) of a datagram. */
export const MAX_ENROLL_MESSAGE_BYTES = MAX_PACKET_BYTES - ASK_FIXED_BYTES

export interface EnrollAsk {
  type: typeof PacketType.Enroll
  kind: typeof EnrollKind.Ask
  clientNonce: Buffer
  cookie: Buffer
  communityId: Buffer
  deviceId: number
  exchange: Buffer
  step: EnrollStep
  message: Buffer
}
export interface EnrollOffer {
  type: typeof PacketType.Enroll
  kind: typeof EnrollKind.Offer
  /** where the ask came from, as the supernode saw it */
  from: Endpoint
  exchange: Buffer
  step: EnrollStep
  message: Buffer
}
export interface EnrollAnswer {
  type: typeof PacketType.Enroll
  kind: typeof EnrollKind.Answer
  deviceId: number
  exchange: Buffer
  step: EnrollStep
  message: Buffer
}
export interface EnrollReply {
  type: typeof PacketType.Enroll
  kind: typeof EnrollKind.Reply
  exchange: Buffer
  step: EnrollStep
  message: Buffer
}
export type EnrollPacket = EnrollAsk | EnrollOffer | EnrollAnswer | EnrollReply

function enrollWriter(kind: EnrollKind, fixed: number, message: Uint8Array): Writer {
  if (message.length < 1 || message.length > MAX_ENROLL_MESSAGE_BYTES) throw new RangeError(`an enrollment message is 1..${MAX_ENROLL_MESSAGE_BYTES} bytes, got ${message.length}`)
  return new Writer(fixed + message.length).u8(WIRE_VERSION).u8(PacketType.Enroll).u8(kind).u8(0)
}

export function encodeEnrollAsk(p: Omit<EnrollAsk, 'type' | 'kind'>): Buffer {
  return enrollWriter(EnrollKind.Ask, ASK_FIXED_BYTES, p.message)
    .bytes(p.clientNonce, 8)
    .bytes(p.cookie, 20)
    .bytes(p.communityId, ENROLL_COMMUNITY_BYTES)
    .u53(checkedDeviceId(p.deviceId))
    .bytes(p.exchange, EXCHANGE_BYTES)
    .u8(p.step)
    .bytes(p.message)
    .done()
}

export function encodeEnrollOffer(p: Omit<EnrollOffer, 'type' | 'kind'>): Buffer {
  const w = enrollWriter(EnrollKind.Offer, OFFER_FIXED_BYTES, p.message)
  writeEndpoint(w, p.from)
  return w.bytes(p.exchange, EXCHANGE_BYTES).u8(p.step).bytes(p.message).done()
}

export function encodeEnrollAnswer(p: Omit<EnrollAnswer, 'type' | 'kind'>): Buffer {
  return enrollWriter(EnrollKind.Answer, HEADER_BYTES + 8 + EXCHANGE_BYTES + 1, p.message)
    .u53(checkedDeviceId(p.deviceId))
    .bytes(p.exchange, EXCHANGE_BYTES)
    .u8(p.step)
    .bytes(p.message)
    .done()
}

export function encodeEnrollReply(p: Omit<EnrollReply, 'type' | 'kind'>): Buffer {
  return enrollWriter(EnrollKind.Reply, HEADER_BYTES + EXCHANGE_BYTES + 1, p.message).bytes(p.exchange, EXCHANGE_BYTES).u8(p.step).bytes(p.message).done()
}

function checkedDeviceId(id: number): number {
  if (!Number.isSafeInteger(id) || id < 1) throw new RangeError(`bad device edge ID: ${id}`)
  return id
}

/** Reads an ENROLL's body after the header; `kind` is the header's flags byte. Failures stay in r.reason. */
export function readEnroll(r: Reader, kind: number): EnrollPacket {
  switch (kind) {
    case EnrollKind.Ask: {
      const clientNonce = r.bytes(8)
      const cookie = r.bytes(20)
      const communityId = r.bytes(ENROLL_COMMUNITY_BYTES)
      const deviceId = readDeviceId(r)
      const exchange = r.bytes(EXCHANGE_BYTES)
      return { type: PacketType.Enroll, kind, clientNonce, cookie, communityId, deviceId, exchange, step: readStep(r), message: readMessage(r) }
    }
    case EnrollKind.Offer: {
      const from = readEndpoint(r)
      const exchange = r.bytes(EXCHANGE_BYTES)
      return { type: PacketType.Enroll, kind, from, exchange, step: readStep(r), message: readMessage(r) }
    }
    case EnrollKind.Answer: {
      const deviceId = readDeviceId(r)
      const exchange = r.bytes(EXCHANGE_BYTES)
      return { type: PacketType.Enroll, kind, deviceId, exchange, step: readStep(r), message: readMessage(r) }
    }
    case EnrollKind.Reply: {
      const exchange = r.bytes(EXCHANGE_BYTES)
      return { type: PacketType.Enroll, kind, exchange, step: readStep(r), message: readMessage(r) }
    }
    default:
      r.fail('bad-enroll-kind')
      return { type: PacketType.Enroll, kind: EnrollKind.Reply, exchange: Buffer.alloc(0), step: EnrollStep.Hello, message: Buffer.alloc(0) }
  }
}

function readDeviceId(r: Reader): number {
  const id = r.u53('bad-edge-id')
  if (r.reason === null && id === 0) r.fail('bad-edge-id')
  return id
}

function readStep(r: Reader): EnrollStep {
  const step = r.u8()
  if (r.reason === null && (step < EnrollStep.Hello || step > EnrollStep.Sealed)) r.fail('bad-enroll-step')
  return step as EnrollStep
}

/** The rest of the datagram (a view), at least one byte. */
function readMessage(r: Reader): Buffer {
  if (r.reason === null && r.remaining < 1) r.fail('truncated')
  // the shorter legs have room for more; the encoder refuses it on every leg, so does the decoder
  if (r.reason === null && r.remaining > MAX_ENROLL_MESSAGE_BYTES) r.fail('oversized')
  return r.bytes(Math.max(0, r.remaining))
}

// ---- what the handshake and the sealed messages carry (decrypted, but still the technician's or
// the device's word: checked as strictly as a datagram) ------------------------------------------

/** The request's name: what the owner sees, like a certificate's display name. */
export const MAX_ENROLL_NAME_BYTES = 64
export const ENROLL_REQUEST_VERSION = 1

/** Message 3's payload: version (1) | timestamp ms (u53) | name length (1) | name (UTF-8, no control characters) */
export interface EnrollRequestBody {
  /** the technician's wall clock, ms since the epoch: the device refuses stale and repeated ones */
  timestampMs: number
  name: string
}

export type EnrollBodyReason = 'truncated' | 'trailing-bytes' | 'bad-version' | 'bad-timestamp' | 'bad-name' | 'bad-state' | 'nonzero-reserved'

export function encodeEnrollRequestBody(body: EnrollRequestBody): Buffer {
  const name = Buffer.from(body.name, 'utf8')
  if (name.length > MAX_ENROLL_NAME_BYTES || !isValidName(body.name, MAX_ENROLL_NAME_BYTES)) throw new RangeError(`name: at most ${MAX_ENROLL_NAME_BYTES} bytes of UTF-8 without control characters`)
  return new Writer(1 + 8 + 1 + name.length).u8(ENROLL_REQUEST_VERSION).u53(body.timestampMs).u8(name.length).bytes(name).done()
}

export function decodeEnrollRequestBody(buf: Buffer): Decoded<EnrollRequestBody, EnrollBodyReason> {
  const r = new Reader(buf)
  if (r.u8() !== ENROLL_REQUEST_VERSION && r.reason === null) return { ok: false, reason: 'bad-version' }
  const timestampMs = r.u53('bad-timestamp')
  const length = r.u8()
  const raw = r.bytes(length)
  const codec = r.finish()
  if (codec !== null) return { ok: false, reason: codec as EnrollBodyReason }
  const name = raw.toString('utf8')
  // a round trip through UTF-8 that changes the bytes: not UTF-8
  if (length > MAX_ENROLL_NAME_BYTES || !Buffer.from(name, 'utf8').equals(raw) || !isValidName(name, MAX_ENROLL_NAME_BYTES)) return { ok: false, reason: 'bad-name' }
  return { ok: true, value: { timestampMs, name } }
}

/** What a poll carries: nothing to say but "still here" (one byte, so that the AEAD has a payload to bind). */
export const ENROLL_POLL = Buffer.from([0x01])

export const EnrollState = { Waiting: 1, Admitted: 2, Denied: 3, Closed: 4 } as const
export type EnrollStateName = 'waiting' | 'admitted' | 'denied' | 'closed'
const STATE_NAMES: Record<number, EnrollStateName> = { 1: 'waiting', 2: 'admitted', 3: 'denied', 4: 'closed' }
const STATE_CODES: Record<EnrollStateName, number> = { waiting: 1, admitted: 2, denied: 3, closed: 4 }

/** The device's answer to a request or a poll: state (1) | reserved 0 (1) | certificate (admitted only: the rest) */
export type EnrollStatus = { state: 'waiting' } | { state: 'admitted'; certificate: Buffer } | { state: 'denied' } | { state: 'closed' }

export function encodeEnrollStatus(status: EnrollStatus): Buffer {
  const certificate = status.state === 'admitted' ? status.certificate : Buffer.alloc(0)
  if (status.state === 'admitted' && certificate.length === 0) throw new RangeError('an admission carries a certificate')
  return new Writer(2 + certificate.length).u8(STATE_CODES[status.state]).u8(0).bytes(certificate).done()
}

export function decodeEnrollStatus(buf: Buffer): Decoded<EnrollStatus, EnrollBodyReason> {
  const r = new Reader(buf)
  const code = r.u8()
  r.zero(1)
  if (r.reason !== null) return { ok: false, reason: r.reason as EnrollBodyReason }
  const state = STATE_NAMES[code]
  if (state === undefined) return { ok: false, reason: 'bad-state' }
  if (state !== 'admitted') return r.finish() === null ? { ok: true, value: { state } } : { ok: false, reason: 'trailing-bytes' }
  if (r.remaining === 0) return { ok: false, reason: 'truncated' }
  // the certificate is checked by whoever uses it (decodeCertificate, then its authority)
  return { ok: true, value: { state, certificate: r.bytes(r.remaining) } }
}
