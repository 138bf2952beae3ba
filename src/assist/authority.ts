// The assistance session's authority (consent, issue 13): the key pair that signs the device's and
// each admitted technician's certificate and their revocations. Its seed lives in secret memory for
// the session (and in the 0600 state file, so that a restarted service keeps the session) and is
// zeroed when the session ends: an old join token then names an authority nobody holds any more.
import { authorityFromIdentity, certificateFingerprint, issueCertificate } from '../crypto/certificate.js'
import { SEED_BYTES, destroyIdentity, formatFingerprint, identityFromSeed, macOfKey } from '../crypto/identity.js'
import type { Authority } from '../crypto/keys.js'
import { signRevocation } from '../crypto/revocation.js'
import { destroySecret, secretMemory, secretBuffer } from '../crypto/secure-memory.js'
import sodium from 'sodium-native'
import { decodeCertificate, type Certificate, type Role } from '../wire/certificate.js'
import type { OverlayAddress } from '../wire/fields.js'
import { RevocationCause } from '../wire/revocation.js'

/** Why a technician's certificate was revoked: signed into the revocation (format 2's cause, contract C1), so its edge says why it stops. */
export type RevocationWhy = 'disconnected' | 'session-ended'
const CAUSES: Record<RevocationWhy, RevocationCause> = { disconnected: RevocationCause.Disconnected, 'session-ended': RevocationCause.SessionEnded }

export interface IssueFields {
  role: Role
  serial: number
  memberKey: Buffer
  /** the member's MAC; macOfKey(memberKey) when absent (a technician's, contract C4) */
  mac?: Buffer
  ipv4: OverlayAddress
  name: string
  /** ms since the epoch: the certificate starts at the second before, and ends at the second after (the session's own end is the edge's) */
  notBefore: number
  notAfter: number
}

/** A certificate as the service keeps it: its bytes, decoded fields and fingerprint (as revocations name it). */
export interface Issued {
  bytes: Buffer
  certificate: Certificate
  fingerprint: string
}

export class SessionAuthority {
  private readonly authority: Authority
  private destroyed = false

  private constructor(private readonly seed: Buffer) {
    const identity = identityFromSeed(seed)
    this.authority = authorityFromIdentity(identity)
  }

  /** A fresh authority for a new session: its seed made in secret memory. */
  static generate(): SessionAuthority {
    const seed = secretBuffer(SEED_BYTES)
    sodium.randombytes_buf(seed)
    return new SessionAuthority(seed)
  }

  /** The authority of a session read back from the state file (its seed, base64). */
  static fromSeedText(text: string): SessionAuthority {
    const raw = Buffer.from(text, 'base64')
    try {
      if (raw.length !== SEED_BYTES) throw new RangeError(`an authority seed is ${SEED_BYTES} bytes`)
      return new SessionAuthority(secretMemory.copyOf(raw))
    } finally {
      destroySecret(raw)
    }
  }

  get publicKey(): Buffer {
    return this.authority.publicKey
  }

  get communityId(): Buffer {
    return this.authority.communityId
  }

  /** The seed as base64, for the state file only (a string cannot be zeroed: made at each save, dropped at once). */
  seedText(): string {
    this.check()
    return this.seed.toString('base64')
  }

  issue(fields: IssueFields): Issued {
    this.check()
    const bytes = issueCertificate(this.authority, {
      role: fields.role,
      serial: fields.serial,
      notBefore: Math.floor(fields.notBefore / 1000),
      notAfter: Math.ceil(fields.notAfter / 1000),
      memberKey: fields.memberKey,
      mac: fields.mac ?? macOfKey(fields.memberKey),
      ipv4: fields.ipv4,
      ipv6: null,
      name: fields.name,
    })
    return issuedOf(bytes)
  }

  /** A signed revocation of a certificate this authority issued, with why (its cause). */
  revoke(issued: Issued, nowMs: number, why: RevocationWhy): Buffer {
    this.check()
    return signRevocation(this.authority, issued.certificate, Math.floor(nowMs / 1000), CAUSES[why])
  }

  /** Zeroes the seed and the secret key: nothing more can be signed in this session's name. */
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    destroySecret(this.seed)
    destroyIdentity(this.authority)
  }

  /** The secret buffers, for tests that check they are zeroed after the session. */
  buffers(): Buffer[] {
    return [this.seed, this.authority.secretKey]
  }

  private check(): void {
    if (this.destroyed) throw new Error("the assistance session has ended: its authority's key is destroyed")
  }
}

/** A certificate's bytes (this authority's, or read back from the state file) with its decoded fields. */
export function issuedOf(bytes: Buffer): Issued {
  const decoded = decodeCertificate(Buffer.from(bytes))
  if (!decoded.ok) throw new Error(`a certificate the session issued does not decode: ${decoded.reason}`)
  return { bytes: decoded.value.bytes, certificate: decoded.value, fingerprint: formatFingerprint(certificateFingerprint(decoded.value)) }
}
