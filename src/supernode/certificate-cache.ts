// Member certificates at registration: valid now (notBefore with CLOCK_SKEW_SECONDS of tolerance,
// notAfter with none), not revoked, and signed by the authority whose key hashes to the community
// ID. Certificates whose authority signature has verified are remembered by fingerprint, so that
// a member registering again (a supernode restart, a NAT rebinding, an edge restarted with the
// same certificate) costs one Ed25519 verify (its announcement) instead of two.
//
// Bounded: CERTIFICATE_CACHE_ENTRIES, least recently used first out. An entry is keyed by the
// certificate's fingerprint (the hash of its body, hex) and keeps the signature that verified
// (so that a body with a swapped signature is checked again, and refused) with what the supernode
// derives from the certificate at every registration (the community ID, the member's edge ID):
// a hit costs one hash instead of four. ~CERTIFICATE_CACHE_ENTRY_BYTES each with the map's share,
// ~5 MiB at the largest; memory-bound.ts counts it.
import { certificateFingerprint, validityFailure } from '../crypto/certificate.js'
import { communityIdOf, edgeIdOf } from '../crypto/keys.js'
import { verify } from '../crypto/sign.js'
import type { Certificate } from '../wire/certificate.js'

/** Enough for every edge of a well-used supernode to re-register after a restart of its own without a second verify. */
export const CERTIFICATE_CACHE_ENTRIES = 16_384
/** One entry: its key string, its value and the map's slot; measured by test/unit/supernode-memory-bound.test.ts. */
export const CERTIFICATE_CACHE_ENTRY_BYTES = 320

export type CertificateRefusal = 'certificate-not-yet-valid' | 'certificate-expired' | 'certificate-revoked' | 'bad-certificate-signature'

/**
 * `cached`: the authority signature had verified before and was not checked again. `edgeId`:
 * edgeIdOf(the member key), the registry's key for the holder.
 */
export type CertificateCheck = { ok: true; communityId: Buffer; communityHex: string; fingerprintHex: string; edgeId: number; cached: boolean } | { ok: false; reason: CertificateRefusal }

/** What a verified certificate yields, kept so that its next registration need not hash it again. */
interface Verified {
  /** the authority signature that verified, as a latin1 string (64 characters): compared, never parsed */
  signature: string
  communityHex: string
  edgeId: number
}

/** What the supernode knows of revocations (revocation-store.ts). */
export interface RevokedCheck {
  isRevoked(communityHex: string, fingerprintHex: string): boolean
}

export class CertificateCache {
  /** by fingerprint (hex); map order = least recently used first */
  private readonly verified = new Map<string, Verified>()

  constructor(private readonly maxEntries = CERTIFICATE_CACHE_ENTRIES) {}

  get size(): number {
    return this.verified.size
  }

  /** Cheap checks first (time, then a hash for the fingerprint and revocation), the authority signature last and only once. */
  check(certificate: Certificate, nowSeconds: number, revocations: RevokedCheck): CertificateCheck {
    const outside = validityFailure(certificate, nowSeconds)
    if (outside !== null) return { ok: false, reason: outside === 'expired' ? 'certificate-expired' : 'certificate-not-yet-valid' }
    const fingerprintHex = certificateFingerprint(certificate).toString('hex')
    const signature = certificate.signature.toString('latin1')
    const known = this.verified.get(fingerprintHex)
    if (known !== undefined && known.signature === signature) {
      if (revocations.isRevoked(known.communityHex, fingerprintHex)) return { ok: false, reason: 'certificate-revoked' }
      // most recently used goes last
      this.verified.delete(fingerprintHex)
      this.verified.set(fingerprintHex, known)
      return { ok: true, communityId: Buffer.from(known.communityHex, 'hex'), communityHex: known.communityHex, fingerprintHex, edgeId: known.edgeId, cached: true }
    }
    // the community is whatever the authority's key hashes to: a certificate cannot name another
    const communityId = communityIdOf(certificate.authorityKey)
    const communityHex = communityId.toString('hex')
    if (revocations.isRevoked(communityHex, fingerprintHex)) return { ok: false, reason: 'certificate-revoked' }
    if (!verify('certificate', certificate.body, certificate.signature, certificate.authorityKey)) return { ok: false, reason: 'bad-certificate-signature' }
    const edgeId = edgeIdOf(certificate.memberKey)
    if (this.verified.size >= this.maxEntries && known === undefined) this.verified.delete(this.verified.keys().next().value!)
    this.verified.set(fingerprintHex, { signature, communityHex, edgeId })
    return { ok: true, communityId, communityHex, fingerprintHex, edgeId, cached: false }
  }
}
