// Issuing and checking member certificates (layout in wire/certificate.ts). One code path for both
// kinds of community: an authority key pair signs, and its public key hashes to the community ID.
// With a shared secret every holder derives that key pair (keys.ts authorityOf) and issues its own
// certificate (selfIssue); with an authority (`overlan ca`) only the authority holds it.
import sodium from 'sodium-native'
import { decodeCertificate, encodeCertificate, encodeCertificateBody, type Certificate, type CertificateFields, type CertificateReason, type Role } from '../wire/certificate.js'
import type { OverlayAddress } from '../wire/fields.js'
import { fingerprintBytes, generateIdentity, isValidPublicKey, macOfKey, type Identity } from './identity.js'
import { communityIdOf, type Authority } from './keys.js'
import { sign, verify } from './sign.js'

/**
 * How far a verifier's clock may be behind the authority's: a certificate is accepted from
 * notBefore minus this. A freshly issued certificate (notBefore = the authority's now) must work at
 * once on a supernode whose clock lags by a minute. Expiry gets no tolerance: notAfter is the end
 * the owner chose, and a verifier whose clock runs ahead only ends a certificate early.
 */
export const CLOCK_SKEW_SECONDS = 60

/** A self-issued certificate (shared secret) lives a day; its edge issues a new one before then. */
export const SELF_ISSUED_LIFETIME_SECONDS = 24 * 3600

/** Why a well-formed certificate is not good here and now: a closed set of counter names. */
export const CERTIFICATE_FAILURES = ['wrong-community', 'not-yet-valid', 'expired', 'revoked', 'bad-signature'] as const
export type CertificateFailure = (typeof CERTIFICATE_FAILURES)[number]

export type CertificateVerdict = { ok: true; fingerprint: Buffer } | { ok: false; reason: CertificateFailure }

/** What a verifier knows of revocations (revocation.ts RevocationList). */
export interface RevocationCheck {
  isRevoked(fingerprint: Buffer): boolean
}

export interface VerifyOptions {
  /** the community this certificate must belong to */
  communityId: Buffer
  /** the verifier's clock, seconds since the epoch */
  nowSeconds: number
  /** CLOCK_SKEW_SECONDS unless given */
  skewSeconds?: number
  revocations?: RevocationCheck
}

/** A new authority (`overlan ca init`): a random key pair; the community ID is the hash of its public key. */
export function generateAuthority(): Authority {
  const { publicKey, secretKey } = generateIdentity()
  return { publicKey, secretKey, communityId: communityIdOf(publicKey) }
}

/** An authority from a key pair read back from its file. */
export function authorityFromIdentity(identity: Identity): Authority {
  return { ...identity, communityId: communityIdOf(identity.publicKey) }
}

/**
 * Signs a certificate. Throws RangeError on fields that cannot be encoded, and on a member key
 * that is not a valid Ed25519 point (nobody could hold its secret, and Noise could not use it).
 */
export function issueCertificate(authority: Authority, fields: Omit<CertificateFields, 'authorityKey'>): Buffer {
  if (!isValidPublicKey(fields.memberKey)) throw new RangeError('the member key is not an Ed25519 public key')
  const body = encodeCertificateBody({ ...fields, authorityKey: authority.publicKey })
  return encodeCertificate(body, sign('certificate', body, authority.secretKey))
}

export interface SelfIssueFields {
  /** null: none yet (the supernode assigns one; the edge issues itself a new certificate with it) */
  ipv4: OverlayAddress | null
  ipv6?: OverlayAddress | null
  /** the edge's MAC; from its key (macOfKey) when not given */
  mac?: Buffer
  name?: string
  /** what the member is (the assistance device's edge: device); member when not given */
  role?: Role
  nowSeconds: number
  lifetimeSeconds?: number
}

/**
 * What an edge of a shared-secret community does once it knows its address: it issues its own
 * certificate (role member unless told) with the authority every holder derives. The serial is random (there
 * is no one place to count them); a collision would only make two certificates share a serial,
 * which nothing keys on (revocations name fingerprints).
 */
export function selfIssue(authority: Authority, identity: Identity, fields: SelfIssueFields): Buffer {
  return issueCertificate(authority, {
    role: fields.role ?? 'member',
    serial: randomSerial(),
    notBefore: fields.nowSeconds,
    notAfter: fields.nowSeconds + (fields.lifetimeSeconds ?? SELF_ISSUED_LIFETIME_SECONDS),
    memberKey: identity.publicKey,
    mac: fields.mac ?? macOfKey(identity.publicKey),
    ipv4: fields.ipv4,
    ipv6: fields.ipv6 ?? null,
    name: fields.name ?? '',
  })
}

/** 1 to 2^53 - 1, uniformly enough. */
function randomSerial(): number {
  const bytes = Buffer.alloc(8)
  for (;;) {
    sodium.randombytes_buf(bytes)
    const serial = (bytes.readUInt32BE(0) & 0x1fffff) * 4294967296 + bytes.readUInt32BE(4)
    if (serial !== 0) return serial
  }
}

/** BLAKE2b-160 of the signed body: what revocations and caches name a certificate by. */
export function certificateFingerprint(certificate: Pick<Certificate, 'body'>): Buffer {
  return fingerprintBytes(certificate.body)
}

/**
 * Is this decoded certificate good for this community, now? Cheap checks first (community, time,
 * revocation), the signature last: a flood of junk costs a hash and a comparison each, not a
 * signature check. A verdict of bad-signature therefore means the rest was in order.
 */
export function verifyCertificate(certificate: Certificate, options: VerifyOptions): CertificateVerdict {
  if (!communityIdOf(certificate.authorityKey).equals(options.communityId)) return { ok: false, reason: 'wrong-community' }
  const outside = validityFailure(certificate, options.nowSeconds, options.skewSeconds)
  if (outside !== null) return { ok: false, reason: outside }
  const fingerprint = certificateFingerprint(certificate)
  if (options.revocations?.isRevoked(fingerprint)) return { ok: false, reason: 'revoked' }
  if (!verify('certificate', certificate.body, certificate.signature, certificate.authorityKey)) return { ok: false, reason: 'bad-signature' }
  return { ok: true, fingerprint }
}

/**
 * Is `nowSeconds` outside the certificate's validity window (notBefore with `skewSeconds` of
 * tolerance, notAfter with none)? The time part of verifyCertificate, alone: a supernode that has
 * checked a certificate's signature before (its cache) still checks the time at every use.
 */
export function validityFailure(certificate: Pick<Certificate, 'notBefore' | 'notAfter'>, nowSeconds: number, skewSeconds = CLOCK_SKEW_SECONDS): 'not-yet-valid' | 'expired' | null {
  if (nowSeconds < certificate.notBefore - skewSeconds) return 'not-yet-valid'
  if (nowSeconds >= certificate.notAfter) return 'expired'
  return null
}

export type CheckedCertificate = { ok: true; certificate: Certificate; fingerprint: Buffer } | { ok: false; reason: CertificateReason | CertificateFailure }

/**
 * Certificate bytes from the network, decoded and verified in one step: what a supernode checks at
 * registration and what a pair session's host answers (its verifyCertificate is
 * `checked.ok ? checked.certificate.memberKey : null`). The certificate it returns owns its bytes
 * (a copy, not a view into a receive buffer), so it may be cached. The reasons of both steps are
 * distinct names, so one counter table covers them.
 */
export function checkCertificate(bytes: Buffer, options: VerifyOptions): CheckedCertificate {
  const decoded = decodeCertificate(Buffer.from(bytes))
  if (!decoded.ok) return decoded
  const verdict = verifyCertificate(decoded.value, options)
  return verdict.ok ? { ok: true, certificate: decoded.value, fingerprint: verdict.fingerprint } : verdict
}
