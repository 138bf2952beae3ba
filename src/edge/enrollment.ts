// The device edge's side of enrollment: technicians who hold the join token ask, through the
// supernode (ENROLL offers), to be admitted. Each exchange runs the XXpsk0 handshake
// (crypto/enrollment.ts); every fresh, authenticated request or poll is put to the decider (the
// assistance service: it asks the owner, and issues the certificate), whose answer goes back
// sealed. A technician who stops polling while waiting is reported gone after ENROLLMENT_GONE_MS.
// Bounded: at most MAX_ENROLLMENTS exchanges at once, and handshakes (the DH work) at most
// HANDSHAKES_PER_SECOND; everything refused is counted by reason.
import { keyFingerprint } from '../crypto/identity.js'
import { EnrollmentResponder, type EnrollmentFailure } from '../crypto/enrollment.js'
import { destroyStaticKey, staticKeyFrom, type StaticKey } from '../crypto/noise-ik.js'
import { formatHostPort } from '../net/address.js'
import { TokenBucket } from '../supernode/rate-limit.js'
import { EnrollStep, encodeEnrollAnswer, zeroCounters, type EnrollOffer, type EnrollStatus } from '../wire/index.js'

export interface EnrollmentRequest {
  /** the technician's identity key, proven by the handshake */
  publicKey: Buffer
  /** keyFingerprint(publicKey) */
  fingerprint: string
  /** what the technician asked to be called (≤ 64 B UTF-8, control characters refused) */
  name: string
  /** "ip:port" the request came from, as the supernode saw it */
  address: string
}

export type EnrollmentAnswer = EnrollStatus

export interface EnrollmentDecider {
  /** called for each authenticated, fresh request (a poll every ~1 s while the technician waits); synchronous, cheap */
  request(request: EnrollmentRequest): EnrollmentAnswer
  /** the technician stopped asking (no poll for ENROLLMENT_GONE_MS) while waiting */
  gone(fingerprint: string): void
}

/** EdgeConfig.enrollment: the token's secret (32 bytes, secret memory; the edge does not destroy it) and who decides. */
export interface EnrollmentConfig {
  secret: Buffer
  decider: EnrollmentDecider
}

/** A waiting technician polls every second: ten missed polls and it is gone (the contract's 10 s). */
export const ENROLLMENT_GONE_MS = 10_000
/** Exchanges at once: ten technicians (the most a session admits) with room for their retries. */
export const MAX_ENROLLMENTS = 64
/**
 * Handshakes answered per second (each costs a key pair and two DHs): the supernode's per-device
 * limit (20/s) lets no more through; this holds if a supernode of ours is not that careful.
 */
export const HANDSHAKES_PER_SECOND = 20
const HANDSHAKE_BURST = 40
/** A request's timestamp may be this far from our clock (clocks of laptops drift; a replay is refused anyway). */
export const REQUEST_FRESH_MS = 10 * 60_000
/** Technicians whose last request timestamp is remembered (replays of an old request are refused). */
const MAX_REMEMBERED_KEYS = 1024

export const ENROLLMENT_REASONS = [
  'enroll-exchange-in-use', // a hello for an exchange already running (a replay, or a collision)
  'enroll-unknown-exchange', // a request or poll for no exchange of ours
  'enroll-full', // MAX_ENROLLMENTS exchanges running
  'rate-limited', // a good hello over HANDSHAKES_PER_SECOND
  'enroll-stale-request', // a request timestamp too far from our clock
  'enroll-replayed-request', // a request no newer than this technician's last
  'enroll-bad-step', // a step the device never receives (its own challenge)
  'handshake-decrypt-failed', // a wrong secret, a wrong community, or a changed byte
  'bad-handshake-key',
  'wrong-device-key',
  'bad-payload',
  'sealed-decrypt-failed',
  'replayed',
  'out-of-order',
] as const
export type EnrollmentReason = (typeof ENROLLMENT_REASONS)[number]

interface Exchange {
  responder: EnrollmentResponder
  /** "ip:port" of the asker as the supernode saw it */
  from: string
  lastHeard: number
  /** the technician's, once its request authenticated */
  fingerprint: string | null
  request: EnrollmentRequest | null
  /** the decider's last answer */
  last: EnrollmentAnswer['state'] | null
}

export interface EnrollmentDeps {
  identity: { publicKey: Buffer; secretKey: Buffer }
  communityId: Buffer
  /** this edge's ID: the device ID its answers carry */
  deviceId: number
  config: EnrollmentConfig
  now(): number
}

/** The device's enrollment exchanges, each keyed by the technician's exchange ID. */
export class EnrollmentDesk {
  readonly drops = zeroCounters(ENROLLMENT_REASONS)
  /** requests and polls put to the decider */
  asked = 0
  private readonly local: StaticKey
  private readonly exchanges = new Map<string, Exchange>()
  /** fingerprint → the newest request timestamp accepted from it */
  private readonly lastRequest = new Map<string, number>()
  private readonly handshakes: TokenBucket

  constructor(private readonly deps: EnrollmentDeps) {
    this.local = staticKeyFrom(deps.identity)
    this.handshakes = new TokenBucket(HANDSHAKES_PER_SECOND, HANDSHAKE_BURST, deps.now())
  }

  get size(): number {
    return this.exchanges.size
  }

  /** An ENROLL offer a supernode forwarded (untrusted); `answer` sends our ENROLL answer back through that supernode. */
  onOffer(offer: EnrollOffer, answer: (packet: Buffer) => void): void {
    const key = offer.exchange.toString('hex')
    const now = this.deps.now()
    const reply = (step: EnrollStep, message: Buffer): void => answer(encodeEnrollAnswer({ deviceId: this.deps.deviceId, exchange: offer.exchange, step, message }))
    switch (offer.step) {
      case EnrollStep.Hello:
        return this.hello(key, offer, now, reply)
      case EnrollStep.Request:
        return this.request(key, offer, now, reply)
      case EnrollStep.Sealed:
        return this.poll(key, offer, now, reply)
      default:
        this.drops['enroll-bad-step']++
    }
  }

  /** Each tick: technicians silent while waiting are gone; silent handshakes and settled exchanges are forgotten. */
  tick(now: number): void {
    for (const [key, exchange] of this.exchanges) {
      if (now - exchange.lastHeard < ENROLLMENT_GONE_MS) continue
      this.forget(key, exchange)
      if (exchange.last === 'waiting' && exchange.fingerprint !== null && !this.stillAsking(exchange.fingerprint)) this.deps.config.decider.gone(exchange.fingerprint)
    }
  }

  /** Erases every exchange's keys and our static key (the edge stops). */
  destroy(): void {
    for (const [key, exchange] of this.exchanges) this.forget(key, exchange)
    destroyStaticKey(this.local)
  }

  private hello(key: string, offer: EnrollOffer, now: number, reply: (step: EnrollStep, message: Buffer) => void): void {
    if (this.exchanges.has(key)) {
      this.drops['enroll-exchange-in-use']++
      return
    }
    if (this.exchanges.size >= MAX_ENROLLMENTS && !this.evictIdleHandshake(now)) {
      this.drops['enroll-full']++
      return
    }
    const responder = EnrollmentResponder.start({ local: this.local, communityId: this.deps.communityId, secret: this.deps.config.secret, exchange: offer.exchange })
    // the PSK check costs no DH: only a hello that passed it takes a token (and the DH work)
    const read = responder.readHello(offer.message, () => this.handshakes.take(now))
    if (!read.ok) {
      responder.end()
      this.drops[read.reason]++
      return
    }
    this.exchanges.set(key, { responder, from: formatHostPort({ host: offer.from.address, port: offer.from.port }), lastHeard: now, fingerprint: null, request: null, last: null })
    reply(EnrollStep.Challenge, read.challenge)
  }

  private request(key: string, offer: EnrollOffer, now: number, reply: (step: EnrollStep, message: Buffer) => void): void {
    const exchange = this.exchanges.get(key)
    if (exchange === undefined) {
      this.drops['enroll-unknown-exchange']++
      return
    }
    const read = exchange.responder.readRequest(offer.message)
    if (!read.ok) return this.refuse(key, exchange, read.reason)
    const { publicKey, body } = read
    const fingerprint = keyFingerprint(publicKey)
    if (Math.abs(body.timestampMs - now) > REQUEST_FRESH_MS) return this.refuse(key, exchange, 'enroll-stale-request')
    if (body.timestampMs <= (this.lastRequest.get(fingerprint) ?? -1)) return this.refuse(key, exchange, 'enroll-replayed-request')
    this.remember(fingerprint, body.timestampMs)
    // one exchange per technician: its earlier ones (a restart of its handshake) go without a "gone"
    for (const [otherKey, other] of this.exchanges) if (other !== exchange && other.fingerprint === fingerprint) this.forget(otherKey, other)
    exchange.fingerprint = fingerprint
    exchange.request = { publicKey, fingerprint, name: body.name, address: exchange.from }
    exchange.lastHeard = now
    this.decide(exchange, reply)
  }

  private poll(key: string, offer: EnrollOffer, now: number, reply: (step: EnrollStep, message: Buffer) => void): void {
    const exchange = this.exchanges.get(key)
    if (exchange === undefined || exchange.request === null) {
      this.drops['enroll-unknown-exchange']++
      return
    }
    const opened = exchange.responder.openPoll(offer.message)
    if (!opened.ok) {
      // a bad or replayed poll does not end a good exchange: only counted
      this.drops[opened.reason]++
      return
    }
    exchange.lastHeard = now
    this.decide(exchange, reply)
  }

  private decide(exchange: Exchange, reply: (step: EnrollStep, message: Buffer) => void): void {
    this.asked++
    const answer = this.deps.config.decider.request(exchange.request!)
    exchange.last = answer.state
    reply(EnrollStep.Sealed, exchange.responder.sealStatus(answer))
  }

  private refuse(key: string, exchange: Exchange, reason: EnrollmentFailure | EnrollmentReason): void {
    this.drops[reason]++
    this.forget(key, exchange)
  }

  private forget(key: string, exchange: Exchange): void {
    exchange.responder.end()
    this.exchanges.delete(key)
  }

  private stillAsking(fingerprint: string): boolean {
    for (const exchange of this.exchanges.values()) if (exchange.fingerprint === fingerprint) return true
    return false
  }

  /** Makes room by dropping the oldest exchange still in its handshake and silent for a second: a stranger's half-open one. */
  private evictIdleHandshake(now: number): boolean {
    for (const [key, exchange] of this.exchanges) {
      if (exchange.request === null && now - exchange.lastHeard >= 1000) {
        this.forget(key, exchange)
        return true
      }
    }
    return false
  }

  private remember(fingerprint: string, timestampMs: number): void {
    this.lastRequest.delete(fingerprint)
    // the oldest first: a bounded map forgets who asked longest ago
    if (this.lastRequest.size >= MAX_REMEMBERED_KEYS) this.lastRequest.delete(this.lastRequest.keys().next().value!)
    this.lastRequest.set(fingerprint, timestampMs)
  }
}
