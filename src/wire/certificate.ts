// Member certificates (protocol v2): the byte layout and its strict decoding. A certificate binds a
// member's static key to its MAC, overlay addresses, name, role and validity window, signed by the
// community's authority. Signing and checking live in src/crypto/certificate.ts; this module only
// reads and writes bytes, and never throws on what it reads.
//
//   format = 1 (1) | role (1) | reserved = 0 (2)
//   serial (u53, not 0)              unique per authority
//   notBefore (u53)                  seconds since the epoch
//   notAfter (u53)                   seconds since the epoch, after notBefore
//   authority public key (32)        Ed25519; BLAKE2b-128 of it is the community ID
//   member public key (32)           Ed25519; also the member's Noise static key
//   MAC (6)                          unicast, not zero
//   IPv4 overlay (5)                 address (4) | prefix (1, 1..32); all 5 bytes zero: none (a
//                                    shared-secret edge registering to be assigned one; it may send no IPv4)
//   IPv6 overlay (17)                address (16) | prefix (1, 1..128); all 17 bytes zero: none
//   name length (1, 0..64) | name    UTF-8, no control characters
//   ------------------- the signed body ends here -------------------
//   signature (64)                   Ed25519 by the authority over "overlan-certificate-v1\0" ‖ body
import { isUtf8 } from 'node:buffer'
import { Reader, Writer, u53From } from './cursor.js'
import { KEY_BYTES, MAC_BYTES, OVERLAY_BYTES, SIGNATURE_BYTES, formatMac, isUnicastMac, isValidName, readOverlay, writeOverlay, type OverlayAddress } from './fields.js'
import { formatIPv6, ipFamily, writeIPv6 } from './ip.js'
import type { Decoded } from './reasons.js'

export const CERTIFICATE_FORMAT = 1

/** What a certificate lets its holder be; the order is the wire value (1, 2, 3). */
export const ROLES = ['device', 'technician', 'member'] as const
export type Role = (typeof ROLES)[number]

/** Display names: twice a record's, room for "technician Anna Example (Acme support)". */
export const MAX_CERTIFICATE_NAME_BYTES = 64
export const OVERLAY6_BYTES = 17
/** Everything but the name and the signature. */
export const CERTIFICATE_FIXED_BYTES = 4 + 8 * 3 + KEY_BYTES * 2 + MAC_BYTES + OVERLAY_BYTES + OVERLAY6_BYTES + 1
export const MIN_CERTIFICATE_BYTES = CERTIFICATE_FIXED_BYTES + SIGNATURE_BYTES
export const MAX_CERTIFICATE_BYTES = MIN_CERTIFICATE_BYTES + MAX_CERTIFICATE_NAME_BYTES

/** Why a certificate's bytes were refused (before any signature is looked at): a closed set of counter names. */
export const CERTIFICATE_REASONS = [
  'truncated',
  'oversized', // longer than MAX_CERTIFICATE_BYTES
  'trailing-bytes',
  'nonzero-reserved',
  'bad-version', // a certificate format this code does not speak
  'bad-role',
  'bad-serial', // zero, or above 2^53 - 1
  'bad-timestamp', // above 2^53 - 1
  'bad-validity', // notAfter not after notBefore
  'bad-mac',
  'bad-overlay-address',
  'bad-name',
] as const
export type CertificateReason = (typeof CERTIFICATE_REASONS)[number]

export interface CertificateFields {
  role: Role
  serial: number
  /** seconds since the epoch */
  notBefore: number
  /** seconds since the epoch */
  notAfter: number
  authorityKey: Buffer
  memberKey: Buffer
  mac: Buffer
  /** null: the member holds no IPv4 address (wire-v2: only a self-issued certificate asking to be assigned one) */
  ipv4: OverlayAddress | null
  ipv6: OverlayAddress | null
  name: string
}

export interface Certificate extends CertificateFields {
  signature: Buffer
  /** the bytes the signature covers (a view into the decoded buffer) */
  body: Buffer
  /** the whole certificate (a view into the decoded buffer: copy it to keep it past the buffer's reuse) */
  bytes: Buffer
}

/** Parses "fd00:9::5/64" (prefix 1 to 128; not ::, not multicast); null when it is not one. */
export function parseOverlay6(text: string): OverlayAddress | null {
  const match = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(text)
  if (!match || ipFamily(match[1]!) !== 6) return null
  const prefix = Number(match[2])
  if (prefix < 1 || prefix > 128) return null
  const raw = Buffer.alloc(16)
  writeIPv6(match[1]!, raw, 0)
  return isOverlay6(raw) ? { address: formatIPv6(raw, 0), prefix } : null
}

/** Neither unspecified (::) nor multicast (ff00::/8): an address a member can hold. */
function isOverlay6(raw: Buffer): boolean {
  return raw[0] !== 0xff && raw.some((b) => b !== 0)
}

/**
 * The signed body of a certificate. Throws RangeError on fields that could never be decoded
 * (the issuer's input is checked by the CLI first; a throw here is a bug or a library misuse).
 */
export function encodeCertificateBody(fields: CertificateFields): Buffer {
  const name = Buffer.from(fields.name)
  if (name.length > MAX_CERTIFICATE_NAME_BYTES || !isValidName(fields.name, MAX_CERTIFICATE_NAME_BYTES)) throw new RangeError(`bad certificate name: ${JSON.stringify(fields.name)}`)
  if (!isUnicastMac(fields.mac)) throw new RangeError(`not a unicast MAC: ${formatMac(fields.mac)}`)
  if (!Number.isSafeInteger(fields.serial) || fields.serial < 1) throw new RangeError(`bad serial: ${fields.serial}`)
  if (!(fields.notAfter > fields.notBefore)) throw new RangeError('notAfter must be after notBefore')
  const role = ROLES.indexOf(fields.role) + 1
  if (role === 0) throw new RangeError(`bad role: ${String(fields.role)}`)
  const w = new Writer(CERTIFICATE_FIXED_BYTES + name.length)
  w.u8(CERTIFICATE_FORMAT).u8(role).skip(2)
  w.u53(fields.serial).u53(fields.notBefore).u53(fields.notAfter)
  w.bytes(fields.authorityKey, KEY_BYTES).bytes(fields.memberKey, KEY_BYTES).bytes(fields.mac, MAC_BYTES)
  writeOverlay(w, fields.ipv4)
  writeOverlay6(w, fields.ipv6)
  w.u8(name.length).bytes(name)
  return w.done()
}

/** The whole certificate: its body and the authority's signature over it. */
export function encodeCertificate(body: Buffer, signature: Buffer): Buffer {
  return new Writer(body.length + SIGNATURE_BYTES).bytes(body).bytes(signature, SIGNATURE_BYTES).done()
}

function writeOverlay6(w: Writer, overlay: OverlayAddress | null): void {
  if (overlay === null) {
    w.skip(OVERLAY6_BYTES)
    return
  }
  const parsed = parseOverlay6(`${overlay.address}/${overlay.prefix}`)
  if (parsed === null) throw new RangeError(`bad IPv6 overlay address: ${overlay.address}/${overlay.prefix}`)
  writeIPv6(parsed.address, w.buf, w.pos)
  w.skip(16).u8(parsed.prefix)
}

/**
 * Decodes a certificate that must fill `buf` exactly. Never throws; the reasons are
 * CERTIFICATE_REASONS. Says nothing about the signature: src/crypto/certificate.ts checks that.
 */
export function decodeCertificate(buf: Buffer): Decoded<Certificate, CertificateReason> {
  if (buf.length > MAX_CERTIFICATE_BYTES) return { ok: false, reason: 'oversized' }
  if (buf.length < 1) return { ok: false, reason: 'truncated' }
  if (buf[0] !== CERTIFICATE_FORMAT) return { ok: false, reason: 'bad-version' }
  const r = new Reader(buf)
  // reasons the packet codec does not know; the first reason met wins, as in Reader
  let own: CertificateReason | null = null
  const fail = (reason: CertificateReason): void => {
    if (r.reason === null) own ??= reason
  }
  r.u8() // format, checked above
  const role = ROLES[r.u8() - 1]
  if (role === undefined) fail('bad-role')
  r.zero(2)
  // -1 when above 2^53 - 1 (or cut short, which the reader has already said)
  const serial = u53From(r.bytes(8))
  if (serial <= 0) fail('bad-serial')
  const notBefore = r.u53('bad-timestamp')
  const notAfter = r.u53('bad-timestamp')
  if (r.reason === null && notAfter <= notBefore) fail('bad-validity')
  const authorityKey = r.bytes(KEY_BYTES)
  const memberKey = r.bytes(KEY_BYTES)
  const mac = r.bytes(MAC_BYTES)
  if (r.reason === null && !isUnicastMac(mac)) r.fail('bad-mac')
  const ipv4 = readOverlay(r)
  const ipv6 = readOverlay6(r)
  const nameBytes = r.bytes(r.u8())
  let name = ''
  if (r.reason === null) {
    name = nameBytes.toString('utf8')
    if (nameBytes.length > MAX_CERTIFICATE_NAME_BYTES || !isUtf8(nameBytes) || !isValidName(name, MAX_CERTIFICATE_NAME_BYTES)) fail('bad-name')
  }
  const bodyEnd = r.pos
  const signature = r.bytes(SIGNATURE_BYTES)
  const codecReason = r.finish()
  const reason = own ?? codecReason
  if (reason !== null) return { ok: false, reason: reason as CertificateReason }
  return {
    ok: true,
    value: {
      role: role!,
      serial,
      notBefore,
      notAfter,
      authorityKey,
      memberKey,
      mac,
      ipv4,
      ipv6,
      name,
      signature,
      body: buf.subarray(0, bodyEnd),
      bytes: buf,
    },
  }
}

function readOverlay6(r: Reader): OverlayAddress | null {
  const raw = r.bytes(16)
  const prefix = r.u8()
  if (r.reason !== null) return null
  if (prefix === 0 && raw.every((b) => b === 0)) return null
  if (prefix < 1 || prefix > 128 || !isOverlay6(raw)) {
    r.fail('bad-overlay-address')
    return null
  }
  return { address: formatIPv6(raw, 0), prefix }
}
