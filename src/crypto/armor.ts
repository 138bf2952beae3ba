// The text form of keys, certificates and revocations in files and on screens: one line,
// "<label> <base64>\n", where the label names the kind and its format version
// ("overlan-identity-v1"), so that a certificate is never read as a key nor a v2 file as a v1 one.
// Secret kinds are encoded and decoded byte by byte into secret memory, never through a JavaScript
// string (which nobody can zero).
import { destroySecret, secretBuffer } from './secure-memory.js'

export const ARMOR_LABELS = {
  /** the 32-byte Ed25519 seed of a member's identity (secret) */
  identity: 'overlan-identity-v1',
  /** the 32-byte Ed25519 seed of a community authority (secret) */
  authority: 'overlan-authority-v1',
  /** a 32-byte Ed25519 public key (a member's or an authority's) */
  publicKey: 'overlan-public-key-v1',
  certificate: 'overlan-certificate-v1',
  revocation: 'overlan-revocation-v1',
} as const
export type ArmorKind = keyof typeof ARMOR_LABELS
const SECRET_KINDS: ReadonlySet<ArmorKind> = new Set(['identity', 'authority'])

const ALPHABET = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')
const PAD = 0x3d
const SPACE = 0x20
const NEWLINE = 0x0a
const DECODE = new Int16Array(256).fill(-1)
ALPHABET.forEach((c, i) => (DECODE[c] = i))

/** The file's bytes (in secret memory for a secret kind: write them out, then destroySecret them). */
export function armor(kind: ArmorKind, bytes: Uint8Array): Buffer {
  const label = Buffer.from(ARMOR_LABELS[kind])
  const encodedLength = Math.ceil(bytes.length / 3) * 4
  const out = SECRET_KINDS.has(kind) ? secretBuffer(label.length + 1 + encodedLength + 1) : Buffer.alloc(label.length + 1 + encodedLength + 1)
  label.copy(out)
  out[label.length] = SPACE
  let at = label.length + 1
  for (let i = 0; i < bytes.length; i += 3) {
    const n = bytes.length - i
    const chunk = (bytes[i]! << 16) | ((n > 1 ? bytes[i + 1]! : 0) << 8) | (n > 2 ? bytes[i + 2]! : 0)
    out[at++] = ALPHABET[(chunk >>> 18) & 63]!
    out[at++] = ALPHABET[(chunk >>> 12) & 63]!
    out[at++] = n > 1 ? ALPHABET[(chunk >>> 6) & 63]! : PAD
    out[at++] = n > 2 ? ALPHABET[chunk & 63]! : PAD
  }
  out[at] = NEWLINE
  return out
}

export type Unarmored = { ok: true; bytes: Buffer } | { ok: false; problem: string }

/**
 * The bytes of one armored line (a trailing newline allowed, nothing else around it). For a
 * secret kind they are in secret memory. `problem` is a few words for a one-line error.
 */
export function unarmor(kind: ArmorKind, text: Uint8Array): Unarmored {
  const label = Buffer.from(ARMOR_LABELS[kind])
  let end = text.length
  if (end > 0 && text[end - 1] === NEWLINE) end--
  const prefixOk = end > label.length && Buffer.from(text.buffer, text.byteOffset, label.length).equals(label) && text[label.length] === SPACE
  if (!prefixOk) return { ok: false, problem: `not an ${label.toString()} file (its first word must be ${label.toString()})` }
  const start = label.length + 1
  const symbols = end - start
  if (symbols === 0 || symbols % 4 !== 0) return { ok: false, problem: 'its base64 is cut short or has extra characters' }
  const pads = (text[end - 1] === PAD ? 1 : 0) + (text[end - 2] === PAD ? 1 : 0)
  const length = (symbols / 4) * 3 - pads
  const out = SECRET_KINDS.has(kind) ? secretBuffer(length) : Buffer.alloc(length)
  let at = 0
  for (let i = start; i < end; i += 4) {
    let chunk = 0
    for (let j = 0; j < 4; j++) {
      const c = text[i + j]!
      const isPad = c === PAD && i + 4 === end && j >= 4 - pads
      const value = isPad ? 0 : DECODE[c]!
      if (value < 0) {
        destroySecret(out)
        return { ok: false, problem: 'it holds a character that is not base64' }
      }
      chunk = (chunk << 6) | value
    }
    if (at < length) out[at++] = (chunk >>> 16) & 0xff
    if (at < length) out[at++] = (chunk >>> 8) & 0xff
    if (at < length) out[at++] = chunk & 0xff
  }
  // the bits padding leaves over must be zero, or two texts would mean the same bytes
  const again = armor(kind, out)
  const canonical = again.subarray(start, end).equals(Buffer.from(text.buffer, text.byteOffset + start, symbols))
  destroySecret(again)
  if (!canonical) {
    destroySecret(out)
    return { ok: false, problem: 'its base64 is not in canonical form' }
  }
  return { ok: true, bytes: out }
}
