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
import type { Certificate } from '../wire/certificate.js'
import { verifyInline, type SignatureCheck } from './signature-checks.js'

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

/**
 * A certificate that passed the cheap checks and is not in the cache: `authoritySignature` is left
 * to check (inline or on the signature worker), then `remember` it.
 */
export interface UncheckedCertificate {
  ok: 'unchecked'
  authoritySignature: SignatureCheck
  certificate: Certificate
  communityId: Buffer
  communityHex: string
  fingerprintHex: string
}

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

/** The supernode's clock against the certificate's window (CLOCK_SKEW_SECONDS of tolerance on notBefore), as a refusal. */
function timeRefusal(certificate: Certificate, nowSeconds: number): CertificateRefusal | null {
  const outside = validityFailure(certificate, nowSeconds)
  return outside === null ? null : outside === 'expired' ? 'certificate-expired' : 'certificate-not-yet-valid'
}

export class CertificateCache {
  /** by fingerprint (hex); map order = least recently used first */
  private readonly verified = new Map<string, Verified>()

  constructor(private readonly maxEntries = CERTIFICATE_CACHE_ENTRIES) {}

  get size(): number {
    return this.verified.size
  }

  /** Checks the certificate at once, its authority signature inline unless cached (lookup, then remember). */
  check(certificate: Certificate, nowSeconds: number, revocations: RevokedCheck): CertificateCheck {
    const found = this.lookup(certificate, nowSeconds, revocations)
    if (found.ok !== 'unchecked') return found
    return verifyInline(found.authoritySignature) ? this.remember(found) : { ok: false, reason: 'bad-certificate-signature' }
  }

  /** Cheap checks first (time, then a hash for the fingerprint and revocation); the authority signature is left to the caller unless cached. */
  lookup(certificate: Certificate, nowSeconds: number, revocations: RevokedCheck): CertificateCheck | UncheckedCertificate {
    const outside = timeRefusal(certificate, nowSeconds)
    if (outside !== null) return { ok: false, reason: outside }
    const fingerprintHex = certificateFingerprint(certificate).toString('hex')
    const known = this.verified.get(fingerprintHex)
    if (known !== undefined && known.signature === certificate.signature.toString('latin1')) {
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
    const authoritySignature: SignatureCheck = { context: 'certificate', message: certificate.body, signature: certificate.signature, publicKey: certificate.authorityKey }
    return { ok: 'unchecked', authoritySignature, certificate, communityId, communityHex, fingerprintHex }
  }

  /** Why a certificate that passed `lookup` is refused now (its time window, a revocation since), or null. */
  endedOrRevoked(certificate: Certificate, communityHex: string, fingerprintHex: string, nowSeconds: number, revocations: RevokedCheck): CertificateRefusal | null {
    return timeRefusal(certificate, nowSeconds) ?? (revocations.isRevoked(communityHex, fingerprintHex) ? 'certificate-revoked' : null)
  }

  /** `unchecked`'s authority signature has verified: cached from now on. */
  remember(unchecked: UncheckedCertificate): CertificateCheck & { ok: true } {
    const { certificate, communityId, communityHex, fingerprintHex } = unchecked
    const edgeId = edgeIdOf(certificate.memberKey)
    if (this.verified.size >= this.maxEntries && !this.verified.has(fingerprintHex)) this.verified.delete(this.verified.keys().next().value!)
    // a body known with another signature keeps the one that verified last
    this.verified.delete(fingerprintHex)
    this.verified.set(fingerprintHex, { signature: certificate.signature.toString('latin1'), communityHex, edgeId })
    return { ok: true, communityId, communityHex, fingerprintHex, edgeId, cached: false }
  }
}
