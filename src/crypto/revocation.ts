// Signing and checking revocations (layout in wire/revocation.ts), and the bounded list of them a
// supernode or an edge keeps: each only until the revoked certificate's notAfter, since past that
// the certificate is refused as expired anyway.
import { RevocationCause, encodeRevocation, encodeRevocationBody, type Revocation } from '../wire/revocation.js'
import type { Certificate } from '../wire/certificate.js'
import { certificateFingerprint, type RevocationCheck } from './certificate.js'
import { communityIdOf, type Authority } from './keys.js'
import { sign, verify } from './sign.js'

/**
 * Revocations a community keeps at most. An authority that revokes more certificates than this
 * before they expire should issue shorter ones; only the authority can make revocations, so
 * nobody else can fill the list.
 */
export const MAX_REVOCATIONS = 4096

export type RevocationVerdict = { ok: true } | { ok: false; reason: 'wrong-community' | 'bad-signature' }

/** `cause` travels signed: the revoked member says why it was stopped ("disconnected", "session ended"). */
export function signRevocation(
  authority: Authority,
  certificate: Pick<Certificate, 'serial' | 'notAfter' | 'body'>,
  revokedAtSeconds: number,
  cause: RevocationCause = RevocationCause.Unspecified,
): Buffer {
  const body = encodeRevocationBody({
    cause,
    serial: certificate.serial,
    fingerprint: certificateFingerprint(certificate),
    notAfter: certificate.notAfter,
    revokedAt: revokedAtSeconds,
    authorityKey: authority.publicKey,
  })
  return encodeRevocation(body, sign('revocation', body, authority.secretKey))
}

/** Made by this community's authority? (Whether it still matters is RevocationList's business.) */
export function verifyRevocation(revocation: Revocation, communityId: Buffer): RevocationVerdict {
  if (!communityIdOf(revocation.authorityKey).equals(communityId)) return { ok: false, reason: 'wrong-community' }
  if (!verify('revocation', revocation.body, revocation.signature, revocation.authorityKey)) return { ok: false, reason: 'bad-signature' }
  return { ok: true }
}

export type RevocationAdded = 'added' | 'known' | 'outlived' | 'full'

/** The revocations of one community that still matter, by certificate fingerprint. */
export class RevocationList implements RevocationCheck {
  /** fingerprint (hex) → the revoked certificate's notAfter */
  private readonly notAfter = new Map<string, number>()

  constructor(private readonly max = MAX_REVOCATIONS) {}

  get size(): number {
    return this.notAfter.size
  }

  /**
   * Keeps a revocation that verifyRevocation accepted. 'outlived': its certificate has expired, so
   * there is nothing to keep; 'full': MAX_REVOCATIONS live ones are kept already (refused, counted).
   */
  add(revocation: Revocation, nowSeconds: number): RevocationAdded {
    if (revocation.notAfter <= nowSeconds) return 'outlived'
    const key = revocation.fingerprint.toString('hex')
    if (this.notAfter.has(key)) return 'known'
    if (this.notAfter.size >= this.max && this.prune(nowSeconds) === 0) return 'full'
    this.notAfter.set(key, revocation.notAfter)
    return 'added'
  }

  isRevoked(fingerprint: Buffer): boolean {
    return this.notAfter.has(fingerprint.toString('hex'))
  }

  /** Forgets the revocations whose certificates have expired; returns how many. */
  prune(nowSeconds: number): number {
    let removed = 0
    for (const [key, notAfter] of this.notAfter) {
      if (notAfter <= nowSeconds) {
        this.notAfter.delete(key)
        removed++
      }
    }
    return removed
  }
}
