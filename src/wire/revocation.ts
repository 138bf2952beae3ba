// Revocations (protocol v2): an authority's signed statement that one certificate is no longer
// good. It names the certificate by fingerprint (what holders match on) and by serial (what the
// authority's own records use), and carries the certificate's notAfter: past it the certificate is
// refused anyway, so holders may forget the revocation then. Fixed size, 144 bytes.
//
//   format = 1 (1) | reserved = 0 (3)
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

export const REVOCATION_FORMAT = 1
export const FINGERPRINT_BYTES = 20
export const REVOCATION_BODY_BYTES = 4 + 8 + FINGERPRINT_BYTES + 8 + 8 + KEY_BYTES
export const REVOCATION_BYTES = REVOCATION_BODY_BYTES + SIGNATURE_BYTES

// fixed size: anything longer is 'oversized', so there are no trailing bytes to name
export const REVOCATION_REASONS = ['truncated', 'oversized', 'nonzero-reserved', 'bad-version', 'bad-serial', 'bad-timestamp'] as const
export type RevocationReason = (typeof REVOCATION_REASONS)[number]

export interface RevocationFields {
  serial: number
  fingerprint: Buffer
  /** the revoked certificate's notAfter, seconds since the epoch */
  notAfter: number
  /** seconds since the epoch */
  revokedAt: number
  authorityKey: Buffer
}

export interface Revocation extends RevocationFields {
  signature: Buffer
  /** the bytes the signature covers (a view into the decoded buffer) */
  body: Buffer
  /** the whole revocation (a view into the decoded buffer) */
  bytes: Buffer
}

export function encodeRevocationBody(fields: RevocationFields): Buffer {
  if (!Number.isSafeInteger(fields.serial) || fields.serial < 1) throw new RangeError(`bad serial: ${fields.serial}`)
  return new Writer(REVOCATION_BODY_BYTES)
    .u8(REVOCATION_FORMAT)
    .skip(3)
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
  if (buf[0] !== REVOCATION_FORMAT) return { ok: false, reason: 'bad-version' }
  const r = new Reader(buf)
  r.u8()
  r.zero(3)
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
  const reason = serialBad ? 'bad-serial' : codecReason
  if (reason !== null) return { ok: false, reason: reason as RevocationReason }
  return { ok: true, value: { serial, fingerprint, notAfter, revokedAt, authorityKey, signature, body: buf.subarray(0, bodyEnd), bytes: buf } }
}
