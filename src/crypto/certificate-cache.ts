// Certificates whose authority signature was verified once, by fingerprint, so that the same
// certificate met again (every registration, every handshake with a known peer) costs a decode and a
// hash instead of an Ed25519 verification. Validity, community and revocation are checked every time:
// a cached certificate expires or is revoked like any other. Bounded, least recently used out first.
import { decodeCertificate } from '../wire/certificate.js'
import { certificateFingerprint, checkCertificate, validityFailure, type CertificateFailure, type CheckedCertificate, type VerifyOptions } from './certificate.js'
import { communityIdOf } from './keys.js'

/** Enough for every member of a large community; each entry is one certificate (≤ 300 bytes) and its decoding. */
export const MAX_CACHED_CERTIFICATES = 1024

export class CertificateCache {
  /** fingerprint (hex) → the certificate (owning its bytes); Map order is the LRU order */
  private readonly entries = new Map<string, CheckedCertificate & { ok: true }>()
  hits = 0
  misses = 0

  constructor(private readonly max = MAX_CACHED_CERTIFICATES) {
    if (!(max >= 1)) throw new RangeError('a certificate cache holds at least one certificate')
  }

  get size(): number {
    return this.entries.size
  }

  /** checkCertificate(bytes, options), skipping the signature check for bytes verified before. */
  check(bytes: Buffer, options: VerifyOptions): CheckedCertificate {
    const decoded = decodeCertificate(bytes)
    if (!decoded.ok) return decoded
    const fingerprint = certificateFingerprint(decoded.value)
    const key = fingerprint.toString('hex')
    const cached = this.entries.get(key)
    // same body, but the signature is compared too: a forged copy of a good body is not a hit
    if (cached !== undefined && cached.certificate.bytes.equals(bytes)) {
      this.hits++
      this.entries.delete(key)
      this.entries.set(key, cached)
      const failure = termsFailure(cached, options)
      return failure === null ? cached : { ok: false, reason: failure }
    }
    this.misses++
    const checked = checkCertificate(bytes, options)
    if (checked.ok) {
      if (cached === undefined && this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!)
      this.entries.set(key, checked)
    }
    return checked
  }

  /** Forgets one certificate (revoked: nothing will ask for it again). */
  forget(fingerprint: Buffer): void {
    this.entries.delete(fingerprint.toString('hex'))
  }
}

/** What verifyCertificate checks besides the signature, for a certificate whose signature was verified before. */
function termsFailure(cached: CheckedCertificate & { ok: true }, options: VerifyOptions): CertificateFailure | null {
  if (!communityIdOf(cached.certificate.authorityKey).equals(options.communityId)) return 'wrong-community'
  const outside = validityFailure(cached.certificate, options.nowSeconds, options.skewSeconds)
  if (outside !== null) return outside
  return options.revocations?.isRevoked(cached.fingerprint) ? 'revoked' : null
}
