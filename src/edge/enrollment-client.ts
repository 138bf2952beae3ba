// The technician's side of enrollment: with a join token (ovl2) and an identity key of its own, it
// asks the device's edge, through a supernode of the token, to be admitted: a cookie from the
// supernode (HELLO), the XXpsk0 handshake (crypto/enrollment.ts) in ENROLL asks, then a sealed poll
// every POLL_MS until the device answers admitted (with a certificate), denied or closed, or the
// session's end passes. It has no certificate yet, so it is no edge: one UDP socket, its own timers.
// Where UDP gets no answer, the asks go over the supernode's fallback WebSocket (TLS) instead, by
// the supernode link's rules (enrollment-carrier.ts).
// Answers are untrusted: only the exchange we started, from the supernode we asked, is read.
import { lookup as dnsLookup } from 'node:dns/promises'
import { EventEmitter } from 'node:events'
import sodium from 'sodium-native'
import type { JoinTokenV2 } from '../assist/join-token.js'
import { EnrollmentInitiator } from '../crypto/enrollment.js'
import type { Identity } from '../crypto/identity.js'
import { communityIdOf, edgeIdOf } from '../crypto/keys.js'
import { destroyStaticKey, staticKeyFrom, type StaticKey } from '../crypto/noise-ik.js'
import { formatSupernodeAddress } from '../net/address.js'
import type { Transport } from '../net/transport.js'
import type { Clock, TimerHandle } from '../time/clock.js'
import { EnrollmentCarrier, type OpenEnrollmentFallback } from './enrollment-carrier.js'
import type { LinkTransport } from './supernode-link.js'
import { EnrollKind, EnrollStep, ErrorCode, PacketType, decodePacket, encodeEnrollAsk, encodeHello, type Cookie, type EnrollReply, type ErrorPacket } from '../wire/index.js'

/** A waiting technician asks again this often: the owner's decision reaches it within a second. */
export const POLL_MS = 1000
/** How often the client's timers are looked at. */
const TICK_MS = 100
/** A HELLO or a handshake message unanswered this long is sent again (a new exchange for the handshake). */
const RETRY_MS = 2000
/** Tries of one supernode before the next one of the token is asked. */
const TRIES_PER_SUPERNODE = 3
/** Cookies last 60 s at the supernode (cookieLifetimeSeconds): fetched again after half of that. */
const COOKIE_REFRESH_MS = 30_000
/** Polls unanswered this long: the device has forgotten us (restarted, say): the handshake starts again. */
const SILENT_RESTART_MS = 5000

export type EnrollmentOutcome = { state: 'admitted'; certificate: Buffer } | { state: 'denied' } | { state: 'closed' } | { state: 'expired' }

export interface EnrollmentClientConfig {
  token: JoinTokenV2
  /** the technician's identity: the key its certificate will bind (the client copies what it needs) */
  identity: Identity
  /** what the owner sees (≤ 64 bytes UTF-8) */
  name: string
  /** each supernode's fallback URL, in the token's order (the CLI pairs the token's URLs with its supernodes); absent: UDP only */
  fallbacks?: readonly (URL | null)[]
}

export interface EnrollmentClientDeps {
  transport: Transport
  clock: Clock
  /** resolves a supernode's host name (default: the system's resolver) */
  lookup?: (host: string) => Promise<string>
  /** opens a supernode's fallback (the CLI: a WebSocket, as an edge opens it); absent: UDP only */
  openFallback?: OpenEnrollmentFallback
}

export interface EnrollmentClientEvents {
  /** the device's owner has not decided yet; `sinceMs`: since the first waiting answer */
  waiting: [sinceMs: number]
  /** something worth one line (the device is not online, a supernode does not answer, the asks moved to the fallback) */
  notice: [line: string]
}

interface Target {
  label: string
  host: string
  ports: readonly number[]
  address: string | null
  fallback: URL | null
}

export class EnrollmentClient extends EventEmitter<EnrollmentClientEvents> {
  private readonly local: StaticKey
  private readonly communityId: Buffer
  private readonly deviceId: number
  private readonly targets: Target[]
  private targetIndex = 0
  private tries = 0
  private nonce = Buffer.alloc(8)
  /** the nonce of the HELLO over UDP that looks for UDP's return while the asks go over the fallback */
  private readonly udpReturnNonce = Buffer.alloc(8)
  /** the supernode binds a cookie to the route it went out on: a change of way drops it (startOver) */
  private cookie: { bytes: Buffer; port: number; at: number } | null = null
  private helloAt = -Infinity
  private exchange = Buffer.alloc(8)
  private initiator: EnrollmentInitiator | null = null
  private step: 'cookie' | 'hello' | 'request' | 'waiting' = 'cookie'
  private sentAt = 0
  private heardAt = 0
  private waitingSince: number | null = null
  private offlineSaidAt = -Infinity
  private ticker: TimerHandle | null = null
  private finish: ((outcome: EnrollmentOutcome) => void) | null = null
  /** counters for tests and the log: answers refused, by reason */
  readonly refused: Record<string, number> = {}
  /** which way the asks go: UDP, or the supernode's fallback */
  readonly carrier: EnrollmentCarrier

  constructor(
    private readonly config: EnrollmentClientConfig,
    private readonly deps: EnrollmentClientDeps,
  ) {
    super()
    this.local = staticKeyFrom(config.identity)
    this.communityId = communityIdOf(config.token.authorityKey)
    this.deviceId = edgeIdOf(config.token.deviceKey)
    this.targets = config.token.supernodes.map((s, i) => ({ label: formatSupernodeAddress(s), host: s.host, ports: s.ports ?? [s.port], address: null, fallback: config.fallbacks?.[i] ?? null }))
    this.carrier = new EnrollmentCarrier(deps.transport, deps.openFallback, deps.clock, {
      received: (msg) => this.receive(msg, 'stream', 0),
      lost: () => this.startOver(),
      notice: (line) => this.emit('notice', line),
      dropped: (reason) => this.count(reason),
    })
  }

  /** How the asks reach the supernode now: udp, or the fallback's tls / ws. */
  get transport(): LinkTransport {
    return this.carrier.transport
  }

  /** Asks until the device's answer is final or the session's end passes. */
  run(): Promise<EnrollmentOutcome> {
    return new Promise((resolve) => {
      this.finish = (outcome) => {
        this.stop()
        resolve(outcome)
      }
      this.deps.transport.onDatagram((msg, address, port) => this.receiveUdp(msg, address, port))
      this.ticker = this.deps.clock.every(TICK_MS, () => this.tick())
      this.tick()
    })
  }

  /** Stops asking and erases the handshake's keys and our copy of the static key. */
  stop(): void {
    this.ticker?.cancel()
    this.ticker = null
    this.initiator?.end()
    this.initiator = null
    this.carrier.close()
    if (this.finish !== null) {
      this.finish = null
      destroyStaticKey(this.local)
    }
  }

  private get target(): Target {
    return this.targets[this.targetIndex]!
  }

  private tick(): void {
    const now = this.deps.clock.now()
    if (now >= this.config.token.expiresAt) return this.finish?.({ state: 'expired' })
    const target = this.target
    // '' while its name is being resolved
    if (target.address === null || target.address === '') return this.resolve(target)
    if (this.carrier.tick(now)) this.startOver()
    if (this.carrier.udpRetryDue(now)) {
      sodium.randombytes_buf(this.udpReturnNonce)
      this.sendUdpHello(this.udpReturnNonce)
    }
    if (this.cookie === null || now - this.cookie.at >= COOKIE_REFRESH_MS) {
      if (now - this.helloAt >= RETRY_MS) this.sendHello(now)
      return
    }
    if (this.step === 'cookie') return this.startExchange(now)
    if (this.step === 'waiting') {
      if (now - this.heardAt >= SILENT_RESTART_MS) return this.restart(now, 'the device stopped answering; asking again')
      if (now - this.sentAt >= POLL_MS) this.send(EnrollStep.Sealed, this.initiator!.poll(), now)
      return
    }
    // hello or request unanswered: a new exchange, and after a few, the next supernode (restart)
    if (now - this.sentAt >= RETRY_MS) this.restart(now, null)
  }

  private resolve(target: Target): void {
    if (target.address === '') return
    target.address = ''
    const lookup = this.deps.lookup ?? (async (host: string) => (await dnsLookup(host)).address)
    lookup(target.host).then(
      (address) => {
        target.address = address
        if (target === this.target && this.finish !== null) this.carrier.begin(target.label, target.fallback, this.deps.clock.now())
      },
      () => {
        this.emit('notice', `cannot resolve supernode ${target.label}; trying the next one`)
        target.address = null
        this.nextTarget()
      },
    )
  }

  private sendHello(now: number): void {
    this.helloAt = now
    this.tries++
    // UDP's silence counts only once the fallback (if any) has had its chance to open
    if (this.tries > TRIES_PER_SUPERNODE && !this.carrier.pending) {
      this.emit('notice', `supernode ${this.target.label} does not answer; trying the next one`)
      return this.nextTarget()
    }
    sodium.randombytes_buf(this.nonce)
    if (this.carrier.way === 'udp') return this.sendUdpHello(this.nonce)
    const hello = encodeHello(this.nonce)
    this.carrier.send(hello, this.target.ports[0]!, this.target.address!)
  }

  /** HELLO over UDP to every port the token lists at once: the first to answer is kept. */
  private sendUdpHello(nonce: Buffer): void {
    const hello = encodeHello(nonce)
    for (const port of this.target.ports) this.deps.transport.send(hello, 0, hello.length, port, this.target.address!)
  }

  private nextTarget(): void {
    this.targetIndex = (this.targetIndex + 1) % this.targets.length
    this.startOver()
    // the race toward it starts once its address is known (resolve): UDP's head start counts from there
    if (this.target.address !== null) this.carrier.begin(this.target.label, this.target.fallback, this.deps.clock.now())
    else this.carrier.close()
  }

  /** A new cookie and a new exchange: another supernode, or the way to this one changed (a cookie is bound to its route). */
  private startOver(): void {
    this.tries = 0
    this.cookie = null
    this.helloAt = -Infinity
    this.step = 'cookie'
  }

  private startExchange(now: number): void {
    this.initiator?.end()
    sodium.randombytes_buf(this.exchange)
    const t = this.config.token
    this.initiator = EnrollmentInitiator.start({ local: this.local, communityId: this.communityId, secret: t.enrollmentSecret, exchange: this.exchange, deviceKey: t.deviceKey })
    this.step = 'hello'
    this.heardAt = now
    this.send(EnrollStep.Hello, this.initiator.hello(), now)
  }

  private restart(now: number, why: string | null): void {
    if (why !== null) this.emit('notice', why)
    this.tries++
    // the next supernode; with only one, this one again from HELLO, its fallback racing UDP anew
    if (this.tries > TRIES_PER_SUPERNODE) return this.nextTarget()
    this.startExchange(now)
  }

  private send(step: EnrollStep, message: Buffer, now: number): void {
    const cookie = this.cookie!
    const ask = encodeEnrollAsk({ clientNonce: this.nonce, cookie: cookie.bytes, communityId: this.communityId, deviceId: this.deviceId, exchange: this.exchange, step, message })
    this.sentAt = now
    this.carrier.send(ask, cookie.port, this.target.address!)
  }

  private receiveUdp(msg: Buffer, address: string, port: number): void {
    const target = this.target
    if (address !== target.address || !target.ports.includes(port)) return this.count('not-our-supernode')
    this.receive(msg, 'udp', port)
  }

  /** `way`: what it came over; `port`: the supernode's UDP port it came from (UDP only). */
  private receive(msg: Buffer, way: 'udp' | 'stream', port: number): void {
    const decoded = decodePacket(msg)
    if (!decoded.ok) return this.count(decoded.reason)
    const packet = decoded.value
    if (packet.type === PacketType.Cookie) return this.onCookie(packet, way, port)
    if (packet.type === PacketType.Error) return this.onError(packet)
    if (packet.type === PacketType.Enroll && packet.kind === EnrollKind.Reply) return this.onReply(packet)
    this.count('unexpected-type')
  }

  private onCookie(packet: Cookie, way: 'udp' | 'stream', port: number): void {
    const now = this.deps.clock.now()
    if (way === 'udp' && this.carrier.way === 'stream' && packet.clientNonce.equals(this.udpReturnNonce)) {
      // UDP is back: a new exchange over it with this cookie (the device keeps the request by the technician's key)
      this.carrier.udpWorks()
      this.startOver()
      this.udpReturnNonce.copy(this.nonce)
      this.cookie = { bytes: Buffer.from(packet.cookie), port, at: now }
      return
    }
    if (way !== this.carrier.way) return this.count('other-carrier')
    if (!packet.clientNonce.equals(this.nonce)) return this.count('bad-nonce')
    // the first port to answer is the one we use; a later answer from another is ignored
    if (this.cookie !== null && now - this.cookie.at < COOKIE_REFRESH_MS) return
    if (way === 'udp') this.carrier.udpWorks()
    this.cookie = { bytes: Buffer.from(packet.cookie), port, at: now }
    this.tries = 0
  }

  /** An ERROR proven by our nonce: a cookie gone stale, or the device not registered (not online yet). */
  private onError(packet: ErrorPacket): void {
    if (!packet.proof.equals(this.nonce)) return this.count('unproven-error')
    const now = this.deps.clock.now()
    if (packet.code === ErrorCode.BadCookie) {
      this.cookie = null
      this.step = 'cookie'
      return
    }
    if (packet.code === ErrorCode.UnknownPeer) {
      if (now - this.offlineSaidAt >= 10_000) {
        this.offlineSaidAt = now
        this.emit('notice', `the device "${this.config.token.deviceName}" is not online at supernode ${this.target.label} yet; still trying`)
      }
      // asked again by the retry timer, without moving to another supernode for it
      this.tries = 0
      return
    }
    this.count(`error-${packet.code}`)
  }

  private onReply(packet: EnrollReply): void {
    const initiator = this.initiator
    if (initiator === null || !packet.exchange.equals(this.exchange)) return this.count('other-exchange')
    const now = this.deps.clock.now()
    if (packet.step === EnrollStep.Challenge && this.step === 'hello') {
      const read = initiator.readChallenge(packet.message)
      if (!read.ok) {
        this.count(read.reason)
        if (read.reason === 'wrong-device-key') this.emit('notice', 'an answer came from a device that is not the one in the token: ignored')
        return this.restart(now, null)
      }
      this.heardAt = now
      this.step = 'request'
      this.send(EnrollStep.Request, initiator.request({ name: this.config.name, timestampMs: now }), now)
      return
    }
    if (packet.step !== EnrollStep.Sealed || (this.step !== 'request' && this.step !== 'waiting')) return this.count('out-of-order')
    const opened = initiator.openStatus(packet.message)
    if (!opened.ok) return this.count(opened.reason)
    this.heardAt = now
    this.tries = 0
    const status = opened.status
    if (status.state === 'waiting') {
      this.step = 'waiting'
      this.waitingSince ??= now
      this.emit('waiting', now - this.waitingSince)
      return
    }
    this.finish?.(status.state === 'admitted' ? { state: 'admitted', certificate: Buffer.from(status.certificate) } : { state: status.state })
  }

  private count(reason: string): void {
    this.refused[reason] = (this.refused[reason] ?? 0) + 1
  }
}
