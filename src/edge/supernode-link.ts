// One edge's registration with one supernode, as a state machine:
//
//   hello ──COOKIE──▶ registering ──REGISTER_ACK──▶ registered
//     ▲                   │                            │
//     └──timeout/ERROR────┘◀──3 keepalives unanswered, ERROR unknown-edge answering a keepalive
//
// An ERROR moves the link only when it proves that it answers what this link sent (docs/PROTOCOL.md
// §4, ERROR): the client nonce of the REGISTER it refuses, the sequence of the KEEPALIVE it answers
// (random from a 48-bit start per registration), or the nonce of the registration it concerns.
// Anyone who can send from the supernode's address can send an ERROR, but not guess those.
// The edge keeps one link per supernode it was given, and survives the loss of any of them.
import { randomBytes, randomInt } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { formatHostPort, type HostPort } from '../net/address.js'
import {
  ErrorCode,
  NO_PROOF,
  PacketType,
  encodeHello,
  encodeKeepalive,
  encodeRegister,
  errorCodeName,
  u53Bytes,
  u53From,
  type Cookie,
  type Endpoint,
  type ErrorPacket,
  type Keepalive,
  type OverlayAddress,
  type RegisterAck,
} from '../wire/index.js'

/** First retry fast (set-up time matters), then back off so a dead supernode costs little. */
export const HELLO_RETRY_FIRST_MS = 250
export const HELLO_RETRY_MAX_MS = 4_000
/** Unanswered keepalives in a row before the registration counts as lost. */
export const MISSED_KEEPALIVES = 3
/** An unanswered keepalive is sent again this soon, so a dead supernode is noticed in seconds. */
export const KEEPALIVE_RETRY_MS = 3_000
/** A keepalive unanswered this long makes the supernode suspect: the relay prefers another one. */
export const SUSPECT_AFTER_MS = 1_000
/** Refusals that retrying soon will not fix (community full, bad signature). */
const SLOW_RETRY_MS = 5_000
/**
 * A MAC or address another edge holds: when that one is this device's previous run (killed, it
 * never said goodbye), the supernode hands it over once it has been silent for a while (10 s from
 * the same public address by default), so ask again soon to get it back without waiting long.
 */
export const CONFLICT_RETRY_MS = 2_000
/**
 * An ERROR without proof (the supernode got a relayed frame or a query from us that it cannot place:
 * it restarted, or our NAT moved us) is checked with a keepalive, at most this often: anyone can
 * send such an ERROR, and it must not make us send more than this.
 */
export const HINT_CHECK_MS = 1_000
/** Keepalive sequences start at a random value below this per registration (48 bits of guessing for a spoofer). */
export const KEEPALIVE_SEQ_START_LIMIT = 2 ** 48

export type LinkState = 'hello' | 'registering' | 'registered'

export interface LinkHost {
  now(): number
  send(buf: Buffer, address: string, port: number): void
  /** the signed record to register with, and its timestamp */
  record(): { bytes: Buffer; timestamp: number }
  /** `moved`: registered again, and the supernode now sees us at another public endpoint (our NAT moved us) */
  registered(link: SupernodeLink, ack: RegisterAck, moved: boolean): void
  lost(link: SupernodeLink, why: string): void
  refused(link: SupernodeLink, why: string): void
  /** the supernode no longer knows this peer (it left or restarted with a new edge ID) */
  peerGone(edgeId: number): void
  /** an ERROR from the supernode's address without the proof that it answers us: ignored, counted */
  unprovenError(): void
}

export class SupernodeLink {
  state: LinkState = 'hello'
  address: string | null = null
  port: number
  rttMs: number | null = null
  reflexive: Endpoint | null = null
  overlay: OverlayAddress | null = null
  edgeId = 0

  private nonce = randomBytes(8)
  /** the client nonce of the registration the supernode acknowledged: ERRORs about our traffic carry it */
  private registrationNonce: Buffer | null = null
  private recordTimestamp = 0
  private retryMs = HELLO_RETRY_FIRST_MS
  private nextActionAt = 0
  private keepaliveMs = 10_000
  private keepaliveSeq = 0
  private keepaliveSentAt = 0
  private helloSentAt = 0
  private unanswered = 0
  private resolving = false
  private hintCheckedAt = -Infinity
  /** ERRORs that proved nothing and changed nothing (spoofed, or answering something older) */
  unprovenErrors = 0

  constructor(
    readonly target: HostPort,
    private readonly host: LinkHost,
  ) {
    this.port = target.port
    if (isIP(target.host)) this.address = target.host
  }

  get label(): string {
    return formatHostPort(this.target)
  }

  get registered(): boolean {
    return this.state === 'registered'
  }

  /** Registered and answering: no keepalive has waited for its answer longer than SUSPECT_AFTER_MS. */
  healthy(now: number): boolean {
    return this.state === 'registered' && (this.unanswered === 0 || now - this.keepaliveSentAt < SUSPECT_AFTER_MS)
  }

  /** True when a datagram from address:port is from this supernode. */
  isFrom(address: string, port: number): boolean {
    return port === this.port && address === this.address
  }

  /** Called often (every edge tick): sends what is due. */
  tick(now: number): void {
    if (now < this.nextActionAt) return
    if (this.address === null) {
      this.resolve()
      return
    }
    switch (this.state) {
      case 'hello':
      case 'registering':
        // a registration that got no answer starts over with a fresh cookie
        this.state = 'hello'
        this.nonce = randomBytes(8)
        this.helloSentAt = now
        this.host.send(encodeHello(this.nonce), this.address, this.port)
        this.nextActionAt = now + this.retryMs
        this.retryMs = Math.min(HELLO_RETRY_MAX_MS, this.retryMs * 2)
        return
      case 'registered':
        if (this.unanswered >= MISSED_KEEPALIVES) {
          this.lose(`${MISSED_KEEPALIVES} keepalives unanswered`)
          this.tick(now)
          return
        }
        this.sendKeepalive(now, this.address)
    }
  }

  private sendKeepalive(now: number, address: string): void {
    this.keepaliveSeq++
    this.keepaliveSentAt = now
    this.unanswered++
    this.host.send(encodeKeepalive(PacketType.Keepalive, this.edgeId, this.keepaliveSeq), address, this.port)
    this.nextActionAt = now + Math.min(this.keepaliveMs, KEEPALIVE_RETRY_MS)
  }

  onCookie(packet: Cookie): void {
    if (this.state !== 'hello' || !packet.clientNonce.equals(this.nonce) || this.address === null) return
    // the HELLO → COOKIE round trip is the first RTT we know; keepalives refine it
    this.rttMs = this.host.now() - this.helloSentAt
    const record = this.host.record()
    this.recordTimestamp = record.timestamp
    this.state = 'registering'
    this.host.send(encodeRegister(this.nonce, packet.cookie, record.bytes), this.address, this.port)
  }

  onRegisterAck(packet: RegisterAck): void {
    if (this.state !== 'registering' || packet.timestamp !== this.recordTimestamp) return
    const now = this.host.now()
    const before = this.reflexive
    const moved = before !== null && (before.address !== packet.reflexive.address || before.port !== packet.reflexive.port)
    this.state = 'registered'
    this.edgeId = packet.edgeId
    this.reflexive = packet.reflexive
    this.overlay = packet.overlay
    this.registrationNonce = this.nonce
    this.keepaliveSeq = randomInt(1, KEEPALIVE_SEQ_START_LIMIT)
    this.retryMs = HELLO_RETRY_FIRST_MS
    this.unanswered = 0
    // three times per interval the supernode expects: a lost keepalive does not expire us, and a
    // restarted supernode (which answers our next keepalive with unknown-edge) has us back in seconds
    this.keepaliveMs = Math.max(1000, Math.floor((packet.keepaliveSeconds * 1000) / 3))
    this.nextActionAt = now + this.keepaliveMs
    this.host.registered(this, packet, moved)
  }

  onKeepaliveAck(packet: Keepalive): void {
    if (this.state !== 'registered' || packet.seq !== this.keepaliveSeq) return
    this.unanswered = 0
    this.rttMs = this.host.now() - this.keepaliveSentAt
    this.nextActionAt = this.keepaliveSentAt + this.keepaliveMs
  }

  /**
   * An ERROR changes something only when its proof is a value this link sent and nobody else could
   * guess off the path; one without proof is a hint, checked with a keepalive; any other is counted
   * in unprovenErrors and ignored.
   */
  onError(packet: ErrorPacket): void {
    const { proof } = packet
    const now = this.host.now()
    switch (packet.code) {
      case ErrorCode.UnknownPeer: {
        // about our relayed frame or query: proved by the nonce of our registration here
        if (this.registrationNonce === null || !proof.equals(this.registrationNonce)) return this.unproven()
        const edgeId = u53From(packet.subject)
        if (edgeId > 0) this.host.peerGone(edgeId)
        return
      }
      case ErrorCode.UnknownEdge:
        if (this.state === 'registered' && this.answersKeepalive(proof)) {
          // the supernode restarted or our NAT moved us: register again at once
          this.lose(`supernode says ${errorCodeName(packet.code)}`)
          return
        }
        if (this.state === 'registered' && proof.equals(NO_PROOF)) return this.checkHint(now)
        return this.unproven()
      case ErrorCode.RateLimited:
        if (this.answersKeepalive(proof) || this.answersRegister(proof)) this.nextActionAt = now + HELLO_RETRY_MAX_MS
        else this.unproven()
        return
      default:
        // a refused REGISTER: proved by its client nonce
        if (!this.answersRegister(proof)) return this.unproven()
        this.refusedRegistration(packet.code, now)
    }
  }

  private refusedRegistration(code: ErrorCode, now: number): void {
    const why = errorCodeName(code)
    this.state = 'hello'
    switch (code) {
      case ErrorCode.BadCookie:
        // our cookie expired on the way, or the supernode restarted in between: again at once
        this.nextActionAt = now
        return
      case ErrorCode.MacInUse:
      case ErrorCode.AddressInUse:
        this.host.refused(this, why)
        this.nextActionAt = now + CONFLICT_RETRY_MS
        return
      default:
        this.host.refused(this, why)
        this.nextActionAt = now + SLOW_RETRY_MS
    }
  }

  /** The proof is the sequence of the keepalive we sent last. */
  private answersKeepalive(proof: Buffer): boolean {
    return this.keepaliveSeq > 0 && proof.equals(u53Bytes(this.keepaliveSeq))
  }

  /** The proof is the client nonce of the REGISTER we are waiting on. */
  private answersRegister(proof: Buffer): boolean {
    return this.state === 'registering' && proof.equals(this.nonce)
  }

  /** The supernode may have forgotten us: ask with a keepalive now, whose answer proves it either way. */
  private checkHint(now: number): void {
    if (now - this.hintCheckedAt < HINT_CHECK_MS || this.address === null) return
    this.hintCheckedAt = now
    this.sendKeepalive(now, this.address)
  }

  private unproven(): void {
    this.unprovenErrors++
    this.host.unprovenError()
  }

  /** The edge re-registers everywhere when its record changes (an assigned address, say). */
  reregister(): void {
    if (this.state === 'registered') {
      this.state = 'hello'
      this.nextActionAt = 0
    }
  }

  private lose(why: string): void {
    const wasRegistered = this.state === 'registered'
    this.state = 'hello'
    this.registrationNonce = null
    this.rttMs = null
    this.unanswered = 0
    this.retryMs = HELLO_RETRY_FIRST_MS
    this.nextActionAt = 0
    if (wasRegistered) this.host.lost(this, why)
  }

  private resolve(): void {
    if (this.resolving) return
    this.resolving = true
    lookup(this.target.host)
      .then((result) => {
        this.address = result.address
      })
      .catch(() => {
        this.host.refused(this, `cannot resolve ${this.target.host}`)
        this.nextActionAt = this.host.now() + SLOW_RETRY_MS
      })
      .finally(() => {
        this.resolving = false
      })
  }
}
