// What an edge's registrations carry and what their answers do to its identity (protocol v2): a
// fresh announcement per REGISTER; an address the supernode assigned → a re-issued certificate and
// a registration again at once; a certificate a supernode refuses → re-issued when self-issued, the
// edge stopped (one line saying what to do) when an authority's; revocations handed to every
// supernode (from --revocations) and taken from them (verified by Credentials). The links' state
// machines (supernode-link.ts) know nothing of certificates; the edge wires this between them.
import type { Logger } from '../log/logger.js'
import { certificateFingerprint } from '../crypto/certificate.js'
import { sign } from '../crypto/sign.js'
import {
  ErrorCode,
  RevocationCause,
  decodeRevocation,
  deregisterSignedBytes,
  encodeDeregister,
  encodeRevocationPacket,
  errorCodeName,
  type Endpoint,
  type OverlayAddress,
  type RegisterAck,
} from '../wire/index.js'
import type { Credentials } from './credentials.js'
import { SLOW_RETRY_MS, type SupernodeLink } from './supernode-link.js'

/** Why the edge stopped when a supernode refused an authority's certificate (the CLI exits with EXIT_CERTIFICATE). */
export const CERTIFICATE_REFUSED = 'certificate-refused'
/** Why the edge stopped when the authority revoked its own certificate, by the revocation's signed cause (C1 of the consent contract). */
export const REVOKED_DISCONNECTED = 'disconnected'
export const REVOKED_SESSION_ENDED = 'session-ended'

export interface RegistrationDeps {
  credentials: Credentials
  now(): number
  /** the LAN endpoints offered to peers as direct candidates (at most MAX_CANDIDATES) */
  candidates(): Endpoint[]
  links(): readonly SupernodeLink[]
  log: Logger
  /** the certificate now has the address a supernode assigned: the TAP and the frame filter take it */
  addressAssigned(overlay: OverlayAddress): void
  /** stops the edge (an authority's certificate refused: nothing here can fix it) */
  stop(why: string): void
}

/** What revocations did, for /status. */
export interface RevocationCounts {
  /** from --revocations, kept and sent to the supernodes */
  announced: number
  /** forwarded by a supernode and taken (new ones) */
  received: number
  /** forwarded by a supernode and refused (not of this community, bad signature, malformed) */
  refused: number
}

export class Registration {
  readonly revocationCounts: RevocationCounts = { announced: 0, received: 0, refused: 0 }
  private lastTimestamp = 0
  /** the --revocations this edge hands every supernode, again after each registration */
  private announced: Buffer[] = []
  private lastRenewalAt = -Infinity
  private stopped = false

  constructor(private readonly deps: RegistrationDeps) {
    // a new certificate (assigned address, renewal, re-issue after a refusal) is registered at once everywhere
    deps.credentials.onCertificateChanged(() => {
      for (const link of deps.links()) link.reregister()
    })
  }

  /**
   * A fresh announcement for each REGISTER: its newer timestamp is what lets a supernode move our
   * registration to a new address (our NAT moved us), while a copy of an earlier one, re-sent by
   * someone else from elsewhere, cannot (one signature, ~20 µs, once per registration).
   */
  announcement(): { bytes: Buffer; timestamp: number } {
    const timestamp = Math.max(this.deps.now(), this.lastTimestamp + 1)
    this.lastTimestamp = timestamp
    return { bytes: this.deps.credentials.announcement(timestamp, this.deps.candidates()), timestamp }
  }

  /** The DEREGISTER a stopping edge sends: signed by its identity, newer than every announcement it made. */
  deregister(): Buffer {
    const { credentials } = this.deps
    const timestamp = Math.max(this.deps.now(), this.lastTimestamp + 1)
    this.lastTimestamp = timestamp
    return encodeDeregister(credentials.edgeId, timestamp, sign('deregister', deregisterSignedBytes(credentials.edgeId, timestamp), credentials.identity.secretKey))
  }

  /** After each registration: an assigned address re-issues the certificate; the revocations go to this supernode. */
  registered(link: SupernodeLink, ack: RegisterAck): void {
    const credentials = this.deps.credentials
    for (const revocation of this.announced) link.send(encodeRevocationPacket(revocation))
    if (credentials.certificate.ipv4 === null && ack.overlay !== null && credentials.reissue(ack.overlay)) {
      this.deps.log.info(`supernode ${link.label} assigned ${ack.overlay.address}/${ack.overlay.prefix}: certificate re-issued with it, registering again`)
      this.deps.addressAssigned(ack.overlay)
    }
  }

  /** A supernode proved it refuses our certificate (supernode-link.ts CERTIFICATE_ERRORS). */
  certificateRefused(link: SupernodeLink, code: ErrorCode): void {
    if (this.stopped) return
    const credentials = this.deps.credentials
    const why = refusalText(link, code, credentials)
    if (credentials.selfIssued) {
      // a shared secret makes its own certificates: a fresh one, but not more often than the link retries
      const now = this.deps.now()
      if (now - this.lastRenewalAt < SLOW_RETRY_MS) return
      this.lastRenewalAt = now
      this.deps.log.warn(`${why}; issuing a new one`)
      credentials.renew()
      return
    }
    this.stopped = true
    this.deps.log.error(`${why}; ${remedy(code)}`)
    this.deps.stop(CERTIFICATE_REFUSED)
  }

  /** The supernode answered the v1 probe: said once per link (the link keeps trying v2, slowly). */
  oldProtocol(link: SupernodeLink): void {
    this.deps.log.error(`supernode ${link.label} speaks protocol v1 (overlan 0.1): upgrade it to overlan 0.2 or later`)
  }

  /** A revocation a supernode forwarded: taken when this community's authority signed it. */
  revocation(bytes: Buffer): void {
    const result = this.deps.credentials.addRevocation(bytes)
    if (result === 'added' || result === 'known') this.revokedUs(bytes)
    if (result === 'added') {
      this.revocationCounts.received++
      this.deps.log.info("a supernode forwarded a revocation: that certificate's holder is dropped")
    } else if (result !== 'known' && result !== 'outlived') {
      // anyone who can send from the supernode's address could send these: counted, not logged each time
      this.revocationCounts.refused++
    }
  }

  /**
   * A verified revocation of our own certificate (the supernode sends it to us before it unregisters
   * us): the edge stops, saying why by the revocation's signed cause. One without a cause (format 1,
   * or cause 0) stops it as a refused certificate, as the ERROR that follows would.
   */
  private revokedUs(bytes: Buffer): void {
    const decoded = decodeRevocation(bytes)
    const credentials = this.deps.credentials
    if (this.stopped || !decoded.ok || !decoded.value.fingerprint.equals(certificateFingerprint(credentials.certificate))) return
    this.stopped = true
    const cause = decoded.value.cause
    if (cause === RevocationCause.Disconnected) {
      this.deps.log.error("the device's owner disconnected this edge (its certificate is revoked): the edge stops")
      this.deps.stop(REVOKED_DISCONNECTED)
    } else if (cause === RevocationCause.SessionEnded) {
      this.deps.log.error('the assistance session was switched off (this certificate is revoked): the edge stops')
      this.deps.stop(REVOKED_SESSION_ENDED)
    } else {
      this.deps.log.error(`the authority revoked this edge's certificate; ${remedy(ErrorCode.CertificateRevoked)}`)
      this.deps.stop(CERTIFICATE_REFUSED)
    }
  }

  /**
   * The revocations of --revocations (read again when the file changes): each kept one is sent to
   * every registered supernode now (the new ones) and after each registration (all of them).
   */
  setRevocations(revocations: readonly Buffer[]): void {
    const credentials = this.deps.credentials
    const kept: Buffer[] = []
    const fresh: Buffer[] = []
    revocations.forEach((bytes, i) => {
      const result = credentials.addRevocation(bytes)
      if (result === 'added' || result === 'known') {
        kept.push(bytes)
        if (!this.announced.some((b) => b.equals(bytes))) fresh.push(bytes)
      } else if (result !== 'outlived') {
        this.deps.log.warn(`--revocations: revocation ${i + 1} is refused (${result}): it is not one of this community's authority`)
      }
    })
    this.announced = kept
    this.revocationCounts.announced = kept.length
    for (const link of this.deps.links()) {
      if (!link.registered) continue
      for (const revocation of fresh) link.send(encodeRevocationPacket(revocation))
    }
    if (fresh.length > 0) this.deps.log.info(`--revocations: ${fresh.length} new revocation${fresh.length === 1 ? '' : 's'} sent to the supernodes`)
  }
}

function refusalText(link: SupernodeLink, code: ErrorCode, credentials: Credentials): string {
  const c = credentials.certificate
  const skew = link.clockSkewMs === null ? '' : `; its clock is ${Math.abs(link.clockSkewMs)} ms ${link.clockSkewMs >= 0 ? 'ahead of' : 'behind'} ours`
  switch (code) {
    case ErrorCode.CertificateExpired:
      return `supernode ${link.label} says the certificate expired (notAfter ${new Date(c.notAfter * 1000).toISOString()} by its clock${skew})`
    case ErrorCode.CertificateNotYetValid:
      return `supernode ${link.label} says the certificate is not valid yet (notBefore ${new Date(c.notBefore * 1000).toISOString()}${skew})`
    case ErrorCode.CertificateRevoked:
      return `supernode ${link.label} says the authority revoked the certificate`
    default:
      return `supernode ${link.label} refuses the certificate (${errorCodeName(code)}: its authority signature does not verify there)`
  }
}

function remedy(code: ErrorCode): string {
  switch (code) {
    case ErrorCode.CertificateExpired:
      return 'the edge stops: ask the authority for a new certificate (overlan ca issue)'
    case ErrorCode.CertificateNotYetValid:
      return 'the edge stops: check the clocks of this host and the supernode (NTP)'
    case ErrorCode.CertificateRevoked:
      return 'the edge stops: this certificate will not work again'
    default:
      return 'the edge stops: the certificate file may be damaged; ask the authority for it again'
  }
}
