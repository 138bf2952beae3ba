// The technicians of one assistance session (consent, issue 13): who asked to be admitted, what the
// owner decided, who holds a certificate now. It answers the device edge's enrollment desk
// (src/edge/enrollment.ts, EnrollmentDecider: contract C3) synchronously from memory; every decision that hands out or
// takes back a certificate is made by the service (service.ts), which persists it before the
// answer changes: a certificate is never handed to a technician before the state file holds it.
// This module knows nothing of files, sockets or the audit log.
import { randomBytes } from 'node:crypto'
import { edgeIdOf } from '../crypto/keys.js'
import type { EnrollmentAnswer, EnrollmentDecider, EnrollmentRequest } from '../edge/enrollment.js'
import { numberToIpv4, pickAddress, subnetOf, ipv4ToNumber } from '../supernode/auto-ip.js'
import { formatEdgeId } from '../wire/edge-id.js'
import type { OverlayAddress } from '../wire/fields.js'
import type { Issued } from './authority.js'

// ---- the registry ------------------------------------------------------------------------------

export const TECHNICIAN_STATES = ['waiting', 'admitted', 'gone', 'denied', 'disconnected'] as const
export type TechnicianState = (typeof TECHNICIAN_STATES)[number]
export type Consent = 'ask' | 'auto'
/** Who admitted or denied: the console (its cookie), the API (the bearer token), or consent "auto". */
export type DecidedBy = 'console' | 'api' | 'auto'

/** A waiting technician whose client has not polled for this long has stopped asking (the responder polls every ~1 s). */
export const WAITING_GONE_MS = 10_000
/** A denied technician still polling within this long is answered "denied" again (its client exits on the first); after it, a request is a new one. */
export const DENIED_ANSWERED_MS = 10_000
/** Requests waiting at once: more are answered "closed" (an owner cannot read a longer list; a flood fills nothing). */
export const MAX_WAITING = 16
/** Records a session keeps; past it the oldest finished request (gone, denied) is forgotten (the audit log keeps it). */
export const MAX_RECORDS = 64
export const MAX_TECHNICIANS_LIMIT = 10
export const DEFAULT_MAX_TECHNICIANS = 3

/** One request and what became of it, as the state file holds it. */
export interface TechnicianRecord {
  /** this request's ID (an API path segment): a technician who asks again after a decision is a new request */
  id: string
  /** the name it asked for, bound to its key by the enrollment handshake (an admitted one's certificate carries it, signed) */
  name: string
  /** its identity key, base64 */
  publicKey: string
  /** keyFingerprint of that key: what the technician's own edge shows */
  fingerprint: string
  /** where the request came from ("ip:port" as the supernode saw it) */
  address: string
  state: TechnicianState
  /** ms since the epoch: when it asked */
  requestedAt: number
  /** ms since the epoch: when it entered its state */
  since: number
  decidedBy?: DecidedBy
  /** admitted (and after): its overlay address, its certificate (base64) and that certificate's fingerprint */
  ip?: string
  certificate?: string
  certificateFingerprint?: string
  /** disconnected: the signed revocation (base64), and why */
  revocation?: string
  reason?: string
  /** admitted (and after): ms since the epoch when the owner (or "auto") admitted it */
  admittedAt?: number
  /** once the device has heard from it: what the device counted of it, across restarts (technician-traffic.ts) */
  traffic?: TechnicianTraffic
}

/** What the device counted of one admitted technician: when it first and last heard from it, and the frame bytes each way. */
export interface TechnicianTraffic {
  /** ms since the epoch */
  firstSeen: number
  lastSeen: number
  /** bytes the device received from it, and sent to it */
  rxBytes: number
  txBytes: number
}

/** Why a decision was refused: the API answers 409 with this line. */
export class DecisionConflict extends Error {
  override readonly name = 'DecisionConflict'
}

export interface RegistryOptions {
  consent: Consent
  maxTechnicians: number
  /** the device's overlay address: technicians get addresses in its subnet */
  device: OverlayAddress
  now: () => number
  /** told of each new request (the service persists and audits it; with consent "auto" it admits it) */
  onRequest: (record: TechnicianRecord) => void
  /** told when a waiting request becomes gone */
  onGone: (record: TechnicianRecord) => void
}

export class TechnicianRegistry implements EnrollmentDecider {
  private readonly records: TechnicianRecord[]
  /** request ID → when its client last polled (memory only: a restart gives each waiting request a fresh WAITING_GONE_MS) */
  private readonly lastPoll = new Map<string, number>()
  /** admitted records the state file does not hold yet: answered "waiting" until it does */
  private readonly unsaved = new Set<string>()
  private closed = false

  constructor(
    private readonly options: RegistryOptions,
    records: TechnicianRecord[] = [],
  ) {
    this.records = records.map((r) => ({ ...r }))
    const now = options.now()
    for (const r of this.records) if (r.state === 'waiting' || r.state === 'denied') this.lastPoll.set(r.id, now)
  }

  get consent(): Consent {
    return this.options.consent
  }

  get maxTechnicians(): number {
    return this.options.maxTechnicians
  }

  /** Every record, oldest first (copies). */
  list(): TechnicianRecord[] {
    return this.records.map((r) => ({ ...r }))
  }

  get(id: string): TechnicianRecord | undefined {
    const r = this.find(id)
    return r === undefined ? undefined : { ...r }
  }

  admittedCount(): number {
    return this.records.filter((r) => r.state === 'admitted').length
  }

  /** The revocations of this session, to hand the device edge (at start and at each disconnect). */
  revocations(): Buffer[] {
    return this.records.filter((r) => r.revocation !== undefined).map((r) => Buffer.from(r.revocation!, 'base64'))
  }

  /** The session is ending: every request from now on is answered "closed". */
  close(): void {
    this.closed = true
  }

  // ---- EnrollmentDecider ----------------------------------------------------------------------

  request(request: EnrollmentRequest): EnrollmentAnswer {
    const now = this.options.now()
    if (this.closed) return { state: 'closed' }
    const latest = this.latestOf(request.fingerprint)
    if (latest !== undefined) {
      switch (latest.state) {
        case 'admitted':
          // a retransmitted poll after the admission: the same certificate again, once it is saved
          return this.unsaved.has(latest.id) ? { state: 'waiting' } : { state: 'admitted', certificate: Buffer.from(latest.certificate!, 'base64') }
        case 'waiting':
          this.lastPoll.set(latest.id, now)
          latest.address = request.address
          return { state: 'waiting' }
        case 'denied':
          if (now - (this.lastPoll.get(latest.id) ?? 0) < DENIED_ANSWERED_MS) {
            this.lastPoll.set(latest.id, now)
            return { state: 'denied' }
          }
          break
        default:
          // gone or disconnected: asking again is a new request, and the owner is asked again
          break
      }
    }
    if (this.records.filter((r) => r.state === 'waiting').length >= MAX_WAITING) return { state: 'closed' }
    if (this.options.consent === 'auto' && this.admittedCount() >= this.options.maxTechnicians) return { state: 'closed' }
    const record: TechnicianRecord = {
      id: randomBytes(6).toString('hex'),
      name: request.name,
      publicKey: request.publicKey.toString('base64'),
      fingerprint: request.fingerprint,
      address: request.address,
      state: 'waiting',
      requestedAt: now,
      since: now,
    }
    this.records.push(record)
    this.lastPoll.set(record.id, now)
    this.prune()
    this.options.onRequest({ ...record })
    return { state: 'waiting' }
  }

  gone(fingerprint: string): void {
    const latest = this.latestOf(fingerprint)
    if (latest?.state === 'waiting') this.becomeGone(latest)
  }

  /** Waiting requests whose client stopped polling (also those the responder never names again: after a restart). */
  sweep(): void {
    const now = this.options.now()
    for (const r of this.records) {
      if (r.state === 'waiting' && now - (this.lastPoll.get(r.id) ?? 0) >= WAITING_GONE_MS) this.becomeGone(r)
    }
  }

  // ---- decisions (the service persists each, then calls saved()) --------------------------------

  /** Checks that `id` is waiting for a decision; returns its record (a copy), or throws DecisionConflict / undefined for unknown. */
  checkWaiting(id: string): TechnicianRecord | undefined {
    const r = this.find(id)
    if (r === undefined) return undefined
    if (r.state !== 'waiting') throw new DecisionConflict(`technician ${id} is ${r.state}, not waiting: nothing to decide`)
    return { ...r }
  }

  /** Checks that `id` may be admitted now; returns its record (a copy), or throws DecisionConflict / undefined for unknown. */
  checkAdmit(id: string): TechnicianRecord | undefined {
    const r = this.checkWaiting(id)
    if (r === undefined) return undefined
    if (this.admittedCount() >= this.options.maxTechnicians) {
      throw new DecisionConflict(`maxTechnicians (${this.options.maxTechnicians}) are admitted already: disconnect one first`)
    }
    return { ...r }
  }

  /** A free overlay address in the device's subnet for this key (the same start point as the supernode's auto-IP). */
  addressFor(publicKey: Buffer): OverlayAddress {
    const { address, prefix } = this.options.device
    const taken = new Set([ipv4ToNumber(address), ...this.records.filter((r) => r.ip !== undefined).map((r) => ipv4ToNumber(r.ip!))])
    const ip = pickAddress(subnetOf(address, prefix), edgeIdOf(publicKey), (n) => taken.has(n))
    if (ip === null) throw new DecisionConflict(`the session's subnet ${address}/${prefix} has no free address left`)
    return { address: numberToIpv4(ip), prefix }
  }

  /** Admitted with `issued` (not answered until saved()). */
  admit(id: string, issued: Issued, by: DecidedBy): TechnicianRecord {
    const r = this.find(id)!
    const ip = issued.certificate.ipv4!
    const now = this.options.now()
    Object.assign(r, { state: 'admitted', since: now, admittedAt: now, decidedBy: by, ip: ip.address, certificate: issued.bytes.toString('base64'), certificateFingerprint: issued.fingerprint })
    this.unsaved.add(id)
    return { ...r }
  }

  deny(id: string, by: DecidedBy): TechnicianRecord {
    const r = this.find(id)!
    Object.assign(r, { state: 'denied', since: this.options.now(), decidedBy: by })
    this.lastPoll.set(id, this.options.now())
    return { ...r }
  }

  /** Checks that `id` may be disconnected; returns its record, or throws DecisionConflict / undefined for unknown. */
  checkDisconnect(id: string): TechnicianRecord | undefined {
    const r = this.find(id)
    if (r === undefined) return undefined
    if (r.state !== 'admitted') throw new DecisionConflict(`technician ${id} is ${r.state}, not admitted: nothing to disconnect`)
    return { ...r }
  }

  disconnect(id: string, revocation: Buffer, reason: string): TechnicianRecord {
    const r = this.find(id)!
    Object.assign(r, { state: 'disconnected', since: this.options.now(), revocation: revocation.toString('base64'), reason })
    this.unsaved.delete(id)
    return { ...r }
  }

  /** The state file holds every change so far: admitted technicians get their certificates. */
  saved(): void {
    this.unsaved.clear()
  }

  /** Sets what the device counted of these technicians (by request ID), to be saved with the rest. */
  setTraffic(traffic: ReadonlyMap<string, TechnicianTraffic>): void {
    for (const r of this.records) {
      const counted = traffic.get(r.id)
      if (counted !== undefined) r.traffic = { ...counted }
    }
  }

  /** Puts a record back as it was (its change could not be saved). */
  restore(record: TechnicianRecord): void {
    const r = this.find(record.id)
    if (r !== undefined) Object.assign(r, record)
    this.unsaved.delete(record.id)
  }

  // ---- internals -------------------------------------------------------------------------------

  private find(id: string): TechnicianRecord | undefined {
    return this.records.find((r) => r.id === id)
  }

  private latestOf(fingerprint: string): TechnicianRecord | undefined {
    return this.records.findLast((r) => r.fingerprint === fingerprint)
  }

  private becomeGone(r: TechnicianRecord): void {
    r.state = 'gone'
    r.since = this.options.now()
    this.lastPoll.delete(r.id)
    this.options.onGone({ ...r })
  }

  /** Forgets the oldest finished requests past MAX_RECORDS; admitted and disconnected ones stay (certificates, revocations). */
  private prune(): void {
    while (this.records.length > MAX_RECORDS) {
      const i = this.records.findIndex((r) => r.state === 'gone' || r.state === 'denied')
      if (i < 0) return
      this.lastPoll.delete(this.records[i]!.id)
      this.records.splice(i, 1)
    }
  }
}

/** The edge ID the device edge's /status lists this technician under. */
export function edgeIdOfRecord(record: Pick<TechnicianRecord, 'publicKey'>): string {
  return formatEdgeId(edgeIdOf(Buffer.from(record.publicKey, 'base64')))
}
