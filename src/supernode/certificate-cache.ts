// Member certificates at registration: valid now (notBefore with CLOCK_SKEW_SECONDS of tolerance,
// notAfter with none), not revoked, and signed by the authority whose key hashes to the community
// ID. Certificates whose authority signature has verified are remembered by fingerprint, so that
// a member registering again (a supernode restart, a NAT rebinding, an edge restarted with the
// same certificate) costs one Ed25519 verify (its announcement) instead of two.
//
// Bounded: CERTIFICATE_CACHE_ENTRIES, least recently used first out. An entry is a 40-character
// hash of the whole certificate, signature included (~CERTIFICATE_CACHE_ENTRY_BYTES with the set's
// share), so the cache costs ~3 MiB at its largest; memory-bound.ts counts it. A hit needs the
// very bytes that verified: a certificate whose signature was swapped for junk is checked again,
// and refused.
import { certificateFingerprint, validityFailure } from '../crypto/certificate.js'
import { fingerprintBytes } from '../crypto/identity.js'
import { communityIdOf } from '../crypto/keys.js'
import { verify } from '../crypto/sign.js'
import type { Certificate } from '../wire/certificate.js'

/** Enough for every edge of a well-used supernode to re-register after a restart of its own without a second verify. */
export const CERTIFICATE_CACHE_ENTRIES = 16_384
/** One entry: its key string and the set's slot; measured by test/unit/supernode-memory-bound.test.ts. */
export const CERTIFICATE_CACHE_ENTRY_BYTES = 200

export type CertificateRefusal = 'certificate-not-yet-valid' | 'certificate-expired' | 'certificate-revoked' | 'bad-certificate-signature'

/** `cached`: the authority signature had verified before and was not checked again. */
export type CertificateCheck = { ok: true; communityId: Buffer; fingerprint: Buffer; fingerprintHex: string; cached: boolean } | { ok: false; reason: CertificateRefusal }

/** What the supernode knows of revocations (revocation-store.ts). */
export interface RevokedCheck {
  isRevoked(communityHex: string, fingerprintHex: string): boolean
}

export class CertificateCache {
  /** BLAKE2b-160 (hex) of whole certificates whose authority signature verified; set order = least recently used first */
  private readonly verified = new Set<string>()

  constructor(private readonly maxEntries = CERTIFICATE_CACHE_ENTRIES) {}

  get size(): number {
    return this.verified.size
  }

  /** Cheap checks first (time, then a hash for the fingerprint and revocation), the authority signature last and only once. */
  check(certificate: Certificate, nowSeconds: number, revocations: RevokedCheck): CertificateCheck {
    const outside = validityFailure(certificate, nowSeconds)
    if (outside !== null) return { ok: false, reason: outside === 'expired' ? 'certificate-expired' : 'certificate-not-yet-valid' }
    // the community is whatever the authority's key hashes to: a certificate cannot name another
    const communityId = communityIdOf(certificate.authorityKey)
    const fingerprint = certificateFingerprint(certificate)
    const fingerprintHex = fingerprint.toString('hex')
    if (revocations.isRevoked(communityId.toString('hex'), fingerprintHex)) return { ok: false, reason: 'certificate-revoked' }
    const key = fingerprintBytes(certificate.bytes).toString('hex')
    if (this.verified.has(key)) {
      // most recently used goes last
      this.verified.delete(key)
      this.verified.add(key)
      return { ok: true, communityId, fingerprint, fingerprintHex, cached: true }
    }
    if (!verify('certificate', certificate.body, certificate.signature, certificate.authorityKey)) return { ok: false, reason: 'bad-certificate-signature' }
    if (this.verified.size >= this.maxEntries) this.verified.delete(this.verified.values().next().value!)
    this.verified.add(key)
    return { ok: true, communityId, fingerprint, fingerprintHex, cached: false }
  }
}
