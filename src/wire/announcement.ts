// The announcement (protocol v2): what an edge says about itself when it registers, and what the
// supernode hands to its peers unchanged. The certificate says who the edge is (signed by the
// authority); the rest says where it can be reached now (signed by the member's own key, so that a
// supernode can neither make up nor alter it, and a newer timestamp replaces an older one).
//
//   certificate length (u16, MIN..MAX_CERTIFICATE_BYTES) | certificate (certificate.ts)
//   timestamp (u53)                  ms since the epoch, by the edge's clock; strictly increasing per edge
//   candidate count (u8, 0..4) | candidates (19 each)    the edge's LAN endpoints
//   ------------------- the signed body ends here -------------------
//   member signature (64)            Ed25519 by the certificate's member key over
//                                    "overlan-announcement-v2\0" ‖ body
import { Reader, Writer } from './cursor.js'
import { decodeCertificate, MAX_CERTIFICATE_BYTES, MIN_CERTIFICATE_BYTES, type Certificate } from './certificate.js'
import { ENDPOINT_BYTES, MAX_CANDIDATES, SIGNATURE_BYTES, readEndpoint, writeEndpoint, type Endpoint } from './fields.js'
import { CODEC_REASONS, type CodecReason, type Decoded } from './reasons.js'

/**
 * A certificate refused for a reason packets share (bad-mac, bad-name…) keeps it; its own ones
 * (bad-role…) become bad-certificate, and so does its format byte: a packet's `bad-version` means
 * the packet's own version.
 */
const PACKET_REASONS = new Set<string>(CODEC_REASONS.filter((reason) => reason !== 'bad-version'))

export const MIN_ANNOUNCEMENT_BYTES = 2 + MIN_CERTIFICATE_BYTES + 8 + 1 + SIGNATURE_BYTES
export const MAX_ANNOUNCEMENT_BYTES = 2 + MAX_CERTIFICATE_BYTES + 8 + 1 + MAX_CANDIDATES * ENDPOINT_BYTES + SIGNATURE_BYTES

export interface Announcement {
  /** decoded from a view of the packet: copy `bytes` to keep it past the receive buffer's reuse */
  certificate: Certificate
  timestamp: number
  candidates: Endpoint[]
  signature: Buffer
  /** the bytes the member signature covers (a view) */
  body: Buffer
  /** the whole announcement (a view) */
  bytes: Buffer
}

/** The signed body. Throws RangeError on what could never be decoded (a bug in the caller). */
export function encodeAnnouncementBody(certificate: Uint8Array, timestamp: number, candidates: readonly Endpoint[]): Buffer {
  if (certificate.length < MIN_CERTIFICATE_BYTES || certificate.length > MAX_CERTIFICATE_BYTES) throw new RangeError(`certificate must be ${MIN_CERTIFICATE_BYTES}..${MAX_CERTIFICATE_BYTES} bytes`)
  if (candidates.length > MAX_CANDIDATES) throw new RangeError(`at most ${MAX_CANDIDATES} candidates`)
  const w = new Writer(2 + certificate.length + 8 + 1 + candidates.length * ENDPOINT_BYTES)
  w.u16(certificate.length).bytes(certificate).u53(timestamp).u8(candidates.length)
  for (const candidate of candidates) writeEndpoint(w, candidate)
  return w.done()
}

export function encodeAnnouncement(body: Buffer, signature: Buffer): Buffer {
  return new Writer(body.length + SIGNATURE_BYTES).bytes(body).bytes(signature, SIGNATURE_BYTES).done()
}

/** Reads an announcement at the reader's position (inside REGISTER, PEER_INFO, PUNCH_REQUEST). */
export function readAnnouncement(r: Reader): Announcement {
  const start = r.pos
  const certLength = r.u16()
  if (r.reason === null && (certLength < MIN_CERTIFICATE_BYTES || certLength > MAX_CERTIFICATE_BYTES)) r.fail('bad-certificate-length')
  const certBytes = r.bytes(certLength)
  let certificate = EMPTY_CERTIFICATE
  if (r.reason === null) {
    const decoded = decodeCertificate(certBytes)
    if (decoded.ok) certificate = decoded.value
    else r.fail(PACKET_REASONS.has(decoded.reason) ? (decoded.reason as CodecReason) : 'bad-certificate')
  }
  const timestamp = r.u53('bad-timestamp')
  const count = r.u8()
  if (r.reason === null && count > MAX_CANDIDATES) r.fail('too-many-candidates')
  const candidates: Endpoint[] = []
  for (let i = 0; i < count && r.reason === null; i++) candidates.push(readEndpoint(r))
  const bodyEnd = r.pos
  const signature = r.bytes(SIGNATURE_BYTES)
  return { certificate, timestamp, candidates, signature, body: r.buf.subarray(start, bodyEnd), bytes: r.buf.subarray(start, r.pos) }
}

/** An announcement alone (the copy a supernode stores), which must fill `buf` exactly. */
export function decodeAnnouncement(buf: Buffer): Decoded<Announcement> {
  const r = new Reader(buf)
  const value = readAnnouncement(r)
  const reason = r.finish()
  return reason === null ? { ok: true, value } : { ok: false, reason }
}

/** Stands in for the certificate of an announcement that failed to decode (never handed out: the reader has failed). */
const EMPTY_CERTIFICATE: Certificate = {
  role: 'member',
  serial: 0,
  notBefore: 0,
  notAfter: 0,
  authorityKey: Buffer.alloc(0),
  memberKey: Buffer.alloc(0),
  mac: Buffer.alloc(0),
  ipv4: null,
  ipv6: null,
  name: '',
  signature: Buffer.alloc(0),
  body: Buffer.alloc(0),
  bytes: Buffer.alloc(0),
}
