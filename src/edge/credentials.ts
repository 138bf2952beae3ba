// What an edge is and whom it accepts (protocol v2): its identity key, its member certificate and the
// community's revocations. One code path for both kinds of community: with a shared secret the edge
// derives the authority and issues its own certificate (again once the supernode assigns it an
// address, and before 2/3 of each certificate's lifetime); with an authority (`overlan ca`) it is
// handed a certificate, checked here once at the start, that it cannot renew.
import { signAnnouncement } from '../crypto/announcement.js'
import { CertificateCache } from '../crypto/certificate-cache.js'
import { CLOCK_SKEW_SECONDS, SELF_ISSUED_LIFETIME_SECONDS, certificateFingerprint, checkCertificate, selfIssue, type CheckedCertificate } from '../crypto/certificate.js'
import { destroyIdentity, formatFingerprint, generateIdentity, keyFingerprint, macOfKey, type Identity } from '../crypto/identity.js'
import { authorityOf, communityIdOf, deriveCommunityKeys, destroyKeys, edgeIdOf, type Authority, type CommunityKeys } from '../crypto/keys.js'
import { RevocationList, verifyRevocation, type RevocationAdded } from '../crypto/revocation.js'
import type { Clock, TimerHandle } from '../time/clock.js'
import { deadline } from '../time/deadline.js'
import { decodeCertificate, type Certificate, type Role } from '../wire/certificate.js'
import { formatMac, type Endpoint, type OverlayAddress } from '../wire/fields.js'
import { decodeRevocation, type RevocationReason } from '../wire/revocation.js'

/** A self-issued certificate is replaced once this share of its lifetime has passed: a day's lasts 16 h. */
export const REISSUE_AT_FRACTION = 2 / 3

export interface CredentialsConfig {
  clock: Clock
  /** a persisted identity (--identity FILE): it becomes these credentials' to destroy; generated when absent */
  identity?: Identity
  /** shared-secret mode: the community name and secret, derived here (and destroyed with these credentials) */
  community?: string
  key?: string | Uint8Array
  /** shared-secret mode: keys derived already (their owner destroys them) */
  keys?: CommunityKeys
  /** authority mode: the certificate an authority issued for `identity` */
  certificate?: Buffer
  /** the TAP's MAC: self-issued into the certificate (shared secret; default from the key), or required to match it */
  mac?: Buffer
  /** the overlay IPv4 (-a): self-issued (null: none until the supernode assigns one), or required to match */
  ipv4?: OverlayAddress | null
  ipv6?: OverlayAddress | null
  /** the display name (shared secret; an authority's certificate carries its own) */
  name?: string
  /** the role self-issued (shared secret; member when not given; an authority's certificate carries its own) */
  role?: Role
  /** self-issued certificates' lifetime (tests shorten it) */
  lifetimeSeconds?: number
}

/**
 * Why credentials could not be made, in one line naming what to fix. `kind` tells a caller which
 * failures are the options contradicting the certificate (usage) and which are the certificate.
 */
export class CredentialsError extends Error {
  constructor(
    message: string,
    readonly kind: 'usage' | 'certificate',
  ) {
    super(message)
  }
}

/** Why a revocation from a file or a supernode was not taken. */
export type RevocationRefusal = RevocationReason | 'wrong-community' | 'bad-signature'

/** How /status shows the edge's own certificate. */
export interface CertificateStatus {
  name: string
  fingerprint: string
  role: Role
  mac: string
  ip: string | null
  ipv6: string | null
  notBefore: string
  notAfter: string
  selfIssued: boolean
}

export class Credentials {
  readonly edgeId: number
  readonly communityId: Buffer
  /** the decoded current certificate (owning its bytes) */
  certificate: Certificate
  private fingerprintBytes: Buffer
  private readonly revocations = new RevocationList()
  /** peers' certificates verified before (hits and misses are counted) */
  readonly peerCertificates = new CertificateCache()
  private readonly revocationListeners: ((fingerprint: Buffer) => void)[] = []
  private readonly certificateListeners: ((certificate: Certificate) => void)[] = []
  private renewal: TimerHandle | null = null
  private destroyed = false

  private constructor(
    readonly identity: Identity,
    /** the authority this edge derived (shared secret), or null (authority mode: the authority is elsewhere) */
    private readonly authority: Authority | null,
    /** keys derived here, destroyed with these credentials */
    private readonly ownKeys: CommunityKeys | null,
    certificate: Certificate,
    private readonly clock: Clock,
    private readonly lifetimeSeconds: number,
  ) {
    this.edgeId = edgeIdOf(identity.publicKey)
    this.communityId = communityIdOf(certificate.authorityKey)
    this.certificate = certificate
    this.fingerprintBytes = certificateFingerprint(certificate)
    this.scheduleRenewal()
  }

  /**
   * Shared-secret mode (community + key, or keys): derives the authority and self-issues. Authority
   * mode (certificate): checks that it is this identity's, of its own authority, valid now, and that
   * `mac`/`ipv4` (when given) are the certificate's. Throws CredentialsError (one line).
   */
  static async create(config: CredentialsConfig): Promise<Credentials> {
    const shared = config.keys !== undefined || config.key !== undefined
    if (shared === (config.certificate !== undefined)) throw new RangeError('give either a community secret (key or keys) or a certificate')
    const identity = config.identity ?? newIdentity()
    try {
      if (config.certificate !== undefined) return new Credentials(identity, null, null, checkOwnCertificate(config, identity, config.certificate), config.clock, 0)
      const ownKeys = config.keys === undefined ? await deriveCommunityKeys(config.community ?? '', config.key ?? '') : null
      const authority = authorityOf(config.keys ?? ownKeys!)
      const lifetime = config.lifetimeSeconds ?? SELF_ISSUED_LIFETIME_SECONDS
      const mac = config.mac ?? macOfKey(identity.publicKey)
      const bytes = selfIssue(authority, identity, { ipv4: config.ipv4 ?? null, ipv6: config.ipv6 ?? null, mac, name: config.name, role: config.role, nowSeconds: seconds(config.clock), lifetimeSeconds: lifetime })
      return new Credentials(identity, authority, ownKeys, decodeOwned(bytes), config.clock, lifetime)
    } catch (err) {
      // a refused start leaves no key behind
      if (config.identity === undefined) destroyIdentity(identity)
      throw err
    }
  }

  get certificateBytes(): Buffer {
    return this.certificate.bytes
  }

  /** BLAKE2b-160 of the current certificate's body: what revocations name it by. */
  get fingerprint(): Buffer {
    return this.fingerprintBytes
  }

  /** Whether this edge issues its own certificates (shared secret) and so may renew them. */
  get selfIssued(): boolean {
    return this.authority !== null
  }

  get mac(): Buffer {
    return this.certificate.mac
  }

  /** A peer's certificate from the network: community, validity (with CLOCK_SKEW_SECONDS), revocation, signature. */
  checkPeer(bytes: Buffer): CheckedCertificate {
    return this.peerCertificates.check(bytes, { communityId: this.communityId, nowSeconds: seconds(this.clock), revocations: this.revocations })
  }

  isRevoked(fingerprint: Buffer): boolean {
    return this.revocations.isRevoked(fingerprint)
  }

  /**
   * A revocation (from --revocations, or forwarded by a supernode): kept when this community's
   * authority signed it and its certificate has not expired; each new one is told to onRevocation.
   */
  addRevocation(bytes: Buffer): RevocationAdded | RevocationRefusal {
    const decoded = decodeRevocation(bytes)
    if (!decoded.ok) return decoded.reason
    const verdict = verifyRevocation(decoded.value, this.communityId)
    if (!verdict.ok) return verdict.reason
    const added = this.revocations.add(decoded.value, seconds(this.clock))
    if (added === 'added') {
      const fingerprint = Buffer.from(decoded.value.fingerprint)
      this.peerCertificates.forget(fingerprint)
      for (const listener of this.revocationListeners) listener(fingerprint)
    }
    return added
  }

  /** Called with the fingerprint of each certificate newly revoked (peers holding it are to be dropped). */
  onRevocation(listener: (fingerprint: Buffer) => void): void {
    this.revocationListeners.push(listener)
  }

  /** Called after each re-issue (an assigned address, a renewal): register again, hand sessions the new bytes. */
  onCertificateChanged(listener: (certificate: Certificate) => void): void {
    this.certificateListeners.push(listener)
  }

  /** This edge's announcement for one registration (wire-v2 W3), signed by its identity. */
  announcement(timestamp: number, candidates: Endpoint[]): Buffer {
    return signAnnouncement(this.identity, this.certificate.bytes, timestamp, candidates)
  }

  /**
   * Self-issues a certificate with the address the supernode assigned. False in authority mode (the
   * certificate's address is the only one) and when the certificate already has this address.
   */
  reissue(ipv4: OverlayAddress): boolean {
    if (this.authority === null || this.destroyed) return false
    const current = this.certificate.ipv4
    if (current !== null && current.address === ipv4.address && current.prefix === ipv4.prefix) return false
    this.issue(ipv4)
    return true
  }

  /**
   * Self-issues a fresh certificate with the same fields (a supernode refused this one as expired,
   * revoked or not yet valid). False in authority mode: only the authority can issue one.
   */
  renew(): boolean {
    if (this.authority === null || this.destroyed) return false
    this.issue(this.certificate.ipv4)
    return true
  }

  /** What /status shows of the edge's own certificate. */
  status(): CertificateStatus {
    const c = this.certificate
    return {
      name: c.name,
      fingerprint: formatFingerprint(this.fingerprintBytes),
      role: c.role,
      mac: formatMac(c.mac),
      ip: c.ipv4 ? `${c.ipv4.address}/${c.ipv4.prefix}` : null,
      ipv6: c.ipv6 ? `${c.ipv6.address}/${c.ipv6.prefix}` : null,
      notBefore: new Date(c.notBefore * 1000).toISOString(),
      notAfter: new Date(c.notAfter * 1000).toISOString(),
      selfIssued: this.selfIssued,
    }
  }

  /** Erases the identity key, and the community keys when they were derived here. */
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.renewal?.cancel()
    this.renewal = null
    destroyIdentity(this.identity)
    if (this.ownKeys !== null) destroyKeys(this.ownKeys)
  }

  private issue(ipv4: OverlayAddress | null): void {
    const c = this.certificate
    const bytes = selfIssue(this.authority!, this.identity, { ipv4, ipv6: c.ipv6, mac: c.mac, name: c.name, role: c.role, nowSeconds: seconds(this.clock), lifetimeSeconds: this.lifetimeSeconds })
    this.certificate = decodeOwned(bytes)
    this.fingerprintBytes = certificateFingerprint(this.certificate)
    this.scheduleRenewal()
    for (const listener of this.certificateListeners) listener(this.certificate)
  }

  /** A self-issued certificate is replaced at 2/3 of its lifetime, so peers never see it expire. */
  private scheduleRenewal(): void {
    this.renewal?.cancel()
    if (this.authority === null) return
    const { notBefore, notAfter } = this.certificate
    const at = (notBefore + (notAfter - notBefore) * REISSUE_AT_FRACTION) * 1000
    this.renewal = deadline(this.clock, at, () => {
      this.renewal = null
      if (!this.destroyed) this.issue(this.certificate.ipv4)
    })
  }
}

function newIdentity(): Identity {
  for (;;) {
    const identity = generateIdentity()
    // 0 means "every member" on the wire: never an edge's ID (a chance of 2^-53)
    if (edgeIdOf(identity.publicKey) !== 0) return identity
    destroyIdentity(identity)
  }
}

function seconds(clock: Clock): number {
  return Math.floor(clock.now() / 1000)
}

/** Bytes we signed ourselves decode; a failure here is a bug, not input. */
function decodeOwned(bytes: Buffer): Certificate {
  const decoded = decodeCertificate(bytes)
  if (!decoded.ok) throw new Error(`a certificate this edge issued does not decode: ${decoded.reason}`)
  return decoded.value
}

/** The checks of an authority's certificate at the start, each failure one line saying what to do. */
function checkOwnCertificate(config: CredentialsConfig, identity: Identity, bytes: Buffer): Certificate {
  const decoded = decodeCertificate(Buffer.from(bytes))
  if (!decoded.ok) throw new CredentialsError(`the certificate is not valid (${decoded.reason})`, 'certificate')
  const certificate = decoded.value
  if (!certificate.memberKey.equals(identity.publicKey)) {
    throw new CredentialsError(
      `the certificate was issued for the key ${keyFingerprint(certificate.memberKey)}, not for this identity (${keyFingerprint(identity.publicKey)}): give the identity file whose .pub was given to ca issue`,
      'certificate',
    )
  }
  const now = seconds(config.clock)
  const checked = checkCertificate(bytes, { communityId: communityIdOf(certificate.authorityKey), nowSeconds: now })
  if (!checked.ok) {
    const until = new Date(certificate.notBefore * 1000).toISOString()
    const ended = new Date(certificate.notAfter * 1000).toISOString()
    const why =
      checked.reason === 'expired'
        ? `expired at ${ended}: ask the authority for a new one`
        : checked.reason === 'not-yet-valid'
          ? `is not valid before ${until} (more than ${CLOCK_SKEW_SECONDS} s from now): check this host's clock`
          : `does not verify (${checked.reason}): it was altered or not made by overlan ca issue`
    throw new CredentialsError(`the certificate ${why}`, 'certificate')
  }
  if (config.mac !== undefined && !config.mac.equals(certificate.mac)) {
    throw new CredentialsError(`--mac ${formatMac(config.mac)} contradicts the certificate's MAC ${formatMac(certificate.mac)}: leave -m out (the TAP gets the certificate's)`, 'usage')
  }
  if (config.name !== undefined && config.name !== certificate.name) {
    throw new CredentialsError(`--name ${JSON.stringify(config.name)} contradicts the certificate's name ${JSON.stringify(certificate.name)}: leave --name out`, 'usage')
  }
  const ipv4 = config.ipv4 ?? null
  const own = certificate.ipv4
  if (ipv4 !== null && (own === null || own.address !== ipv4.address || own.prefix !== ipv4.prefix)) {
    throw new CredentialsError(`-a ${ipv4.address}/${ipv4.prefix} contradicts the certificate's address ${own ? `${own.address}/${own.prefix}` : '(none)'}: leave -a out (the TAP gets the certificate's)`, 'usage')
  }
  return checked.certificate
}
