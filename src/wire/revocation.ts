// Revocations (protocol v2): an authority's signed statement that one certificate is no longer
// good. It names the certificate by fingerprint (what holders match on) and by serial (what the
// authority's own records use), and carries the certificate's notAfter: past it the certificate is
// refused anyway, so holders may forget the revocation then. Fixed size, 144 bytes.
//
//   format = 2 (1) | cause (1) | reserved = 0 (2)
//                                      cause: 0 unspecified, 1 disconnected (the owner removed this
//                                      member), 2 session-ended (the owner switched assistance off);
//                                      format 1 (overlan 0.2) has a reserved zero there: cause 0
//   serial (u53, not 0)                the revoked certificate's
//   certificate fingerprint (20)       BLAKE2b-160 of the revoked certificate's signed body
//   notAfter (u53)                     the revoked certificate's, seconds since the epoch
//   revokedAt (u53)                    when the authority revoked it, seconds since the epoch
//   authority public key (32)
//   ------------------- the signed body ends here -------------------
//   signature (64)                     Ed25519 by the authority over "overlan-revocation-v1\0" ‖ body
import { Reader, Writer, u53From } from './cursor.js'
import { KEY_BYTES, SIGNATURE_BYTES } from './fields.js'
import type { Decoded } from './reasons.js'

/** What encoders write; FIRST_REVOCATION_FORMAT (no cause) still decodes, with cause 0. */
export const REVOCATION_FORMAT = 2
export const FIRST_REVOCATION_FORMAT = 1
export type RevocationFormat = typeof FIRST_REVOCATION_FORMAT | typeof REVOCATION_FORMAT

/** Why the authority revoked: inside the signed body, so that the revoked member can believe it and say so. */
export const RevocationCause = { Unspecified: 0, Disconnected: 1, SessionEnded: 2 } as const
export type RevocationCause = (typeof RevocationCause)[keyof typeof RevocationCause]
const MAX_CAUSE = RevocationCause.SessionEnded
export const FINGERPRINT_BYTES = 20
export const REVOCATION_BODY_BYTES = 4 + 8 + FINGERPRINT_BYTES + 8 + 8 + KEY_BYTES
export const REVOCATION_BYTES = REVOCATION_BODY_BYTES + SIGNATURE_BYTES

// fixed size: anything longer is 'oversized', so there are no trailing bytes to name
export const REVOCATION_REASONS = ['truncated', 'oversized', 'nonzero-reserved', 'bad-version', 'bad-serial', 'bad-timestamp', 'bad-cause'] as const
export type RevocationReason = (typeof REVOCATION_REASONS)[number]

export interface RevocationFields {
  /** REVOCATION_FORMAT when absent; FIRST_REVOCATION_FORMAT only to re-encode an old one (its cause must be 0) */
  format?: RevocationFormat
  cause: RevocationCause
  serial: number
  fingerprint: Buffer
  /** the revoked certificate's notAfter, seconds since the epoch */
  notAfter: number
  /** seconds since the epoch */
  revokedAt: number
  authorityKey: Buffer
}

export interface Revocation extends RevocationFields {
  format: RevocationFormat
  signature: Buffer
  /** the bytes the signature covers (a view into the decoded buffer) */
  body: Buffer
  /** the whole revocation (a view into the decoded buffer) */
  bytes: Buffer
}

export function encodeRevocationBody(fields: RevocationFields): Buffer {
  if (!Number.isSafeInteger(fields.serial) || fields.serial < 1) throw new RangeError(`bad serial: ${fields.serial}`)
  const format = fields.format ?? REVOCATION_FORMAT
  if (!Number.isInteger(fields.cause) || fields.cause < 0 || fields.cause > MAX_CAUSE || (format === FIRST_REVOCATION_FORMAT && fields.cause !== 0)) {
    throw new RangeError(`bad revocation cause ${fields.cause} for format ${format}`)
  }
  return new Writer(REVOCATION_BODY_BYTES)
    .u8(format)
    .u8(fields.cause)
    .skip(2)
    .u53(fields.serial)
    .bytes(fields.fingerprint, FINGERPRINT_BYTES)
    .u53(fields.notAfter)
    .u53(fields.revokedAt)
    .bytes(fields.authorityKey, KEY_BYTES)
    .done()
}

export function encodeRevocation(body: Buffer, signature: Buffer): Buffer {
  return new Writer(REVOCATION_BYTES).bytes(body, REVOCATION_BODY_BYTES).bytes(signature, SIGNATURE_BYTES).done()
}

/** Decodes a revocation that must fill `buf` exactly. Never throws; the reasons are REVOCATION_REASONS. */
export function decodeRevocation(buf: Buffer): Decoded<Revocation, RevocationReason> {
  if (buf.length > REVOCATION_BYTES) return { ok: false, reason: 'oversized' }
  if (buf.length < 1) return { ok: false, reason: 'truncated' }
  const format = buf[0]
  if (format !== REVOCATION_FORMAT && format !== FIRST_REVOCATION_FORMAT) return { ok: false, reason: 'bad-version' }
  const r = new Reader(buf)
  r.u8()
  const cause = r.u8()
  // format 1's byte is reserved: zero is its only cause
  const causeBad = r.reason === null && (format === FIRST_REVOCATION_FORMAT ? cause !== 0 : cause > MAX_CAUSE)
  r.zero(2)
  // -1 when above 2^53 - 1 (or cut short, which the reader has already said)
  const serial = u53From(r.bytes(8))
  const serialBad = r.reason === null && serial <= 0
  const fingerprint = r.bytes(FINGERPRINT_BYTES)
  const notAfter = r.u53('bad-timestamp')
  const revokedAt = r.u53('bad-timestamp')
  const authorityKey = r.bytes(KEY_BYTES)
  const bodyEnd = r.pos
  const signature = r.bytes(SIGNATURE_BYTES)
  const codecReason = r.finish()
  const reason = causeBad ? (format === FIRST_REVOCATION_FORMAT ? 'nonzero-reserved' : 'bad-cause') : serialBad ? 'bad-serial' : codecReason
  if (reason !== null) return { ok: false, reason: reason as RevocationReason }
  return { ok: true, value: { format, cause: cause as RevocationCause, serial, fingerprint, notAfter, revokedAt, authorityKey, signature, body: buf.subarray(0, bodyEnd), bytes: buf } }
}
