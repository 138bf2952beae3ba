// Member identities (protocol v2): one static Ed25519 key pair per edge, kept across restarts in an
// --identity file, named to people by a fingerprint. The same key is the edge's static key in its
// Noise sessions (which do Diffie-Hellman on Ed25519 keys through noise-curve-ed), so one key file
// and one certificate cover both signing and key agreement; its X25519 form (sodium's conversion,
// below) is for anything that needs a Curve25519 key instead.
import sodium from 'sodium-native'
import { FINGERPRINT_BYTES } from '../wire/revocation.js'
import { destroySecret, secretBuffer } from './secure-memory.js'

export const SEED_BYTES = 32
export const PUBLIC_KEY_BYTES = 32
export const X25519_KEY_BYTES = 32

export interface Identity {
  publicKey: Buffer
  /** the 64-byte Ed25519 secret key (seed ‖ public key), in secret memory */
  secretKey: Buffer
}

export function generateIdentity(): Identity {
  const publicKey = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES)
  const secretKey = secretBuffer(sodium.crypto_sign_SECRETKEYBYTES)
  sodium.crypto_sign_keypair(publicKey, secretKey)
  return { publicKey, secretKey }
}

/** The key pair of a 32-byte seed (what an identity file holds); the seed stays its owner's to destroy. */
export function identityFromSeed(seed: Uint8Array): Identity {
  if (seed.length !== SEED_BYTES) throw new RangeError(`an identity seed is ${SEED_BYTES} bytes`)
  const publicKey = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES)
  const secretKey = secretBuffer(sodium.crypto_sign_SECRETKEYBYTES)
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed)
  return { publicKey, secretKey }
}

/** The seed of an identity (the first 32 bytes of libsodium's secret key), in secret memory. */
export function seedOf(identity: Identity): Buffer {
  const seed = secretBuffer(SEED_BYTES)
  identity.secretKey.copy(seed, 0, 0, SEED_BYTES)
  return seed
}

export function destroyIdentity(identity: Identity): void {
  destroySecret(identity.secretKey)
}

/** A point on the curve, of the large subgroup: a key somebody can hold the secret of. */
export function isValidPublicKey(publicKey: Uint8Array): boolean {
  return publicKey.length === PUBLIC_KEY_BYTES && sodium.crypto_core_ed25519_is_valid_point(publicKey)
}

/**
 * The X25519 public key of an Ed25519 public key, for Noise; null when it is not a valid point
 * (a key from a certificate is untrusted input until then).
 */
export function x25519PublicKeyOf(publicKey: Uint8Array): Buffer | null {
  if (!isValidPublicKey(publicKey)) return null
  const out = Buffer.alloc(X25519_KEY_BYTES)
  sodium.crypto_sign_ed25519_pk_to_curve25519(out, publicKey)
  return out
}

/** The X25519 secret key of an identity, in secret memory (destroy it with the session that uses it). */
export function x25519SecretKeyOf(identity: Identity): Buffer {
  const out = secretBuffer(X25519_KEY_BYTES)
  sodium.crypto_sign_ed25519_sk_to_curve25519(out, identity.secretKey)
  return out
}

// RFC 4648 base32, lower case, no padding: no symbols that need quoting, and 20 bytes are exactly 32 of them
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** BLAKE2b-160 of `bytes`: the fingerprint of a public key, or of a certificate's signed body. */
export function fingerprintBytes(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(FINGERPRINT_BYTES)
  sodium.crypto_generichash(out, bytes)
  return out
}

/** A key's fingerprint as people see it (and /status and the audit log show it): 32 base32 symbols. */
export function keyFingerprint(publicKey: Uint8Array): string {
  return formatFingerprint(fingerprintBytes(publicKey))
}

export function formatFingerprint(fingerprint: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of fingerprint) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31]
  return out
}

/** The 20 bytes of a fingerprint as formatFingerprint writes it (any case); null when it is not one. */
export function parseFingerprint(text: string): Buffer | null {
  const symbols = text.trim().toLowerCase()
  if (symbols.length !== 32) return null
  const out = Buffer.alloc(FINGERPRINT_BYTES)
  let bits = 0
  let value = 0
  let at = 0
  for (const symbol of symbols) {
    const digit = BASE32.indexOf(symbol)
    if (digit < 0) return null
    value = ((value << 5) | digit) & 0xffff
    bits += 5
    if (bits >= 8) {
      out[at++] = (value >>> (bits - 8)) & 0xff
      bits -= 8
    }
  }
  return out
}

/**
 * A MAC for a member whose authority gave none: six bytes of BLAKE2b of its public key, made
 * locally administered (bit 1 set) and unicast (bit 0 clear), so it is stable across restarts of
 * the same identity and never a vendor's or a group address.
 */
export function macOfKey(publicKey: Uint8Array): Buffer {
  // BLAKE2b's shortest output is 16 bytes: take the first six
  const hash = Buffer.alloc(16)
  sodium.crypto_generichash(hash, publicKey)
  const mac = Buffer.from(hash.subarray(0, 6))
  mac[0] = (mac[0]! & 0xfc) | 0x02
  return mac
}
