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
//
// Protocol v2: each REGISTER carries a fresh announcement (certificate, timestamp, candidates,
// member signature); REGISTER_ACK's supernode time gives the clock skew (certificates are judged
// by the supernode's clock). A supernode that leaves V1_PROBE_AFTER_HELLOS HELLOs unanswered gets
// one HELLO of protocol v1: a v1 COOKIE back means it is overlan 0.1, said once, and HELLO goes on
// at the slow pace. Certificate refusals (expired, revoked, not yet valid, bad) go to the edge,
// which re-issues a self-issued certificate or stops (an authority's cannot be renewed here).
// REVOCATION packets go from the data path (outside.ts) to registration.ts, not through a link.
//
// A link has a carrier: UDP (the edge's socket; HELLO goes to every port the supernode lists at
// once, the first to answer is kept) or the supernode's fallback, a WebSocket (a StreamCarrier).
// Both start together, as happy eyeballs does: the fallback is dialled at once, and the
// registration runs over it when UDP has not answered within UDP_HEAD_START_MS. While on the
// fallback a second, UDP-only attempt (udpTry) says HELLO every UDP_RETRY_ON_FALLBACK_MS; when it
// registers, the link moves back to UDP in one step (the stream carried frames until then) and the
// stream is closed. Losing the stream, or the registration on it, starts the race again.
import { randomBytes, randomInt } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { formatSupernodeAddress, type HostPort } from '../net/address.js'
import type { Transport } from '../net/transport.js'
import type { StreamCarrier, StreamKind } from '../net/ws-carrier.js'
import {
  ErrorCode,
  NO_PROOF,
  OLD_WIRE_VERSION,
  PacketType,
  encodeHello,
  encodeKeepalive,
  encodeRegister,
  errorCodeName,
  oldProtocolCookieNonce,
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
/** Refusals that retrying soon will not fix (community full, bad signature); and HELLO to a supernode of protocol v1. */
export const SLOW_RETRY_MS = 5_000
/**
 * A registration again while registered (a new certificate) keeps the old one carrying traffic for
 * at most this long, as long as a dead supernode takes to notice: then it counts as lost.
 */
export const REFRESH_TIMEOUT_MS = MISSED_KEEPALIVES * KEEPALIVE_RETRY_MS
/** Unanswered HELLOs in a row before one HELLO of protocol v1 asks whether the supernode is an old one (wire-v2 W1). */
export const V1_PROBE_AFTER_HELLOS = 3
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
/**
 * UDP that answers within this of the start (or of losing the registration) wins the race with the
 * fallback: a COOKIE takes one round trip, far below this on any working network, while UDP that
 * is blocked never answers. Registering over the fallback starts no earlier than this.
 */
export const UDP_HEAD_START_MS = 1_000
/** While on the fallback, HELLO over UDP (one per port) this often: a few bytes, back on UDP within seconds. */
export const UDP_RETRY_ON_FALLBACK_MS = 5_000
/** Dialling the fallback again after it failed or closed: from this, doubling up to the max. */
export const FALLBACK_RETRY_FIRST_MS = 1_000
export const FALLBACK_RETRY_MAX_MS = 30_000

export type LinkState = 'hello' | 'registering' | 'registered'
/** What a link's registration runs over: the edge's UDP socket, or the fallback stream. */
export type Carrier = 'udp' | 'stream'
/** How /status names it: `tls` and `ws` are the fallback's WebSocket with and without TLS. */
export type LinkTransport = 'udp' | StreamKind

/** The ERROR codes that refuse the certificate itself: the edge re-issues its own, or stops. */
export const CERTIFICATE_ERRORS: ReadonlySet<ErrorCode> = new Set([ErrorCode.CertificateExpired, ErrorCode.CertificateRevoked, ErrorCode.CertificateNotYetValid, ErrorCode.BadCertificate])

/** What a supernode is to a link: where (UDP ports, first one the default) and its fallback URL. */
export interface LinkTarget extends HostPort {
  ports?: readonly number[]
  fallback?: URL | null
}

/** The move back to UDP while on the fallback: its own HELLO and REGISTER, over UDP only. */
interface UdpTry {
  state: 'hello' | 'registering'
  nonce: Buffer
  announcementTimestamp: number
  /** when its REGISTER went out: half its round trip is the skew's uncertainty */
  registerSentAt: number
  port: number
  nextHelloAt: number
}

export interface LinkHost {
  now(): number
  send(buf: Buffer, address: string, port: number): void
  /** the announcement to register with, signed afresh with a newer timestamp each time */
  announcement(): { bytes: Buffer; timestamp: number }
  /** `moved`: registered again, and the supernode now sees us at another public endpoint (our NAT moved us) */
  registered(link: SupernodeLink, ack: RegisterAck, moved: boolean): void
  lost(link: SupernodeLink, why: string): void
  refused(link: SupernodeLink, why: string): void
  /** the supernode no longer knows this peer (it left or restarted with a new edge ID) */
  peerGone(edgeId: number): void
  /** an ERROR from the supernode's address without the proof that it answers us: ignored, counted */
  unprovenError(): void
  /** opens the fallback (wired to the inbound path by the edge); needed only when a target has one */
  openFallback?: (url: URL) => Promise<StreamCarrier>
  /** the fallback could not be opened, or closed: the link dials again later */
  fallbackDown?(link: SupernodeLink, why: string, stream: StreamCarrier | null): void
  /** registered over another carrier than the last registration's (from null: the first registration, over the fallback) */
  carrierChanged?(link: SupernodeLink, from: LinkTransport | null, to: LinkTransport): void
  /**
   * The supernode proved that it refuses our certificate (CERTIFICATE_ERRORS): refusing a REGISTER,
   * or unregistering us at notAfter or on a revocation. The link waits SLOW_RETRY_MS unless told
   * to register again (reregister) sooner.
   */
  certificateRefused(link: SupernodeLink, code: ErrorCode): void
  /** the supernode answered the v1 probe: it speaks protocol v1 (once per link until it answers v2) */
  oldProtocol?(link: SupernodeLink): void
}

export class SupernodeLink {
  state: LinkState = 'hello'
  address: string | null = null
  /** the UDP port in use: the first listed until one answers */
  port: number
  readonly ports: readonly number[]
  readonly fallback: URL | null
  carrier: Carrier = 'udp'
  /** the fallback's connection while it is open (dialled in the race, or carrying the registration) */
  stream: StreamCarrier | null = null
  rttMs: number | null = null
  reflexive: Endpoint | null = null
  overlay: OverlayAddress | null = null
  edgeId = 0
  /** the supernode's clock minus ours, from the last REGISTER_ACK (ms; null before one) */
  clockSkewMs: number | null = null
  /** it answered the v1 probe and not yet a v2 HELLO: HELLO goes on at SLOW_RETRY_MS */
  speaksOldProtocol = false

  private nonce: Buffer = randomBytes(8)
  /** the client nonce of the registration the supernode acknowledged: ERRORs about our traffic carry it */
  private registrationNonce: Buffer | null = null
  private announcementTimestamp = 0
  private registerSentAt = 0
  /** HELLOs since the last COOKIE; the v1 probe goes out once it reaches V1_PROBE_AFTER_HELLOS */
  private unansweredHellos = 0
  /** a HELLO is out and no COOKIE has answered it (a re-registration's first HELLO is not a retry) */
  private helloOutstanding = false
  /** the nonce of the v1 HELLO probe, while one is out */
  private oldProbeNonce: Buffer | null = null
  /**
   * When a registration again while registered began (reregister): until it is acknowledged the
   * supernode still holds the old one, so the link still relays and answers queries (null: none)
   */
  private refreshSince: number | null = null
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
  /** when the current race began: UDP's head start counts from it (null until the first tick) */
  private raceStartedAt: number | null = null
  private udpTry: UdpTry | null = null
  private dialling = false
  private nextDialAt = 0
  private dialBackoffMs = FALLBACK_RETRY_FIRST_MS
  /** the transport of the last registration, to notice a change */
  private registeredOver: LinkTransport | null = null
  private closed = false

  constructor(
    readonly target: LinkTarget,
    private readonly host: LinkHost,
  ) {
    this.port = target.port
    this.ports = target.ports?.length ? target.ports : [target.port]
    this.fallback = target.fallback ?? null
    if (isIP(target.host)) this.address = target.host
  }

  get label(): string {
    return formatSupernodeAddress({ host: this.target.host, port: this.target.port, ports: this.ports })
  }

  /** How the link is registered now (or trying to be): udp, or the fallback's tls / ws. */
  get transport(): LinkTransport {
    return this.carrier === 'stream' && this.stream !== null ? this.stream.kind : 'udp'
  }

  /** The port the registration uses: the UDP port, or the fallback URL's. */
  get portInUse(): number {
    if (this.carrier === 'udp' || this.fallback === null) return this.port
    return this.fallback.port !== '' ? Number(this.fallback.port) : this.fallback.protocol === 'wss:' ? 443 : 80
  }

  /** The socket sealed packets for this supernode go out on: the stream while on it, else the main one (null). */
  get via(): Transport | null {
    return this.carrier === 'stream' ? this.stream : null
  }

  /** Whether `via` (a socket a datagram came in on) is this link's fallback stream. */
  owns(via: Transport): boolean {
    return via === this.stream && via !== null
  }

  /** Registered, or registering again while the supernode still holds the last registration. */
  get registered(): boolean {
    return this.state === 'registered' || this.refreshSince !== null
  }

  /** Registered and answering: no keepalive has waited for its answer longer than SUSPECT_AFTER_MS. */
  healthy(now: number): boolean {
    if (this.refreshSince !== null) return true
    return this.state === 'registered' && (this.unanswered === 0 || now - this.keepaliveSentAt < SUSPECT_AFTER_MS)
  }

  /** True when a datagram from address:port is from this supernode. */
  isFrom(address: string, port: number): boolean {
    return address === this.address && (port === this.port || this.ports.includes(port))
  }

  /** Called often (every edge tick): sends what is due. */
  tick(now: number): void {
    if (this.closed) return
    this.raceStartedAt ??= now
    this.tickFallback(now)
    this.tickUdpTry(now)
    if (this.refreshSince !== null && now - this.refreshSince >= REFRESH_TIMEOUT_MS) {
      this.lose(`registering again unanswered for ${REFRESH_TIMEOUT_MS / 1000} s`)
    }
    if (now < this.nextActionAt) return
    if (this.carrier === 'udp' && this.address === null) {
      this.resolve()
      return
    }
    switch (this.state) {
      case 'hello':
      case 'registering':
        // a registration that got no answer starts over with a fresh cookie
        if (this.state === 'hello' && this.helloOutstanding) this.unansweredHellos++
        this.helloOutstanding = true
        this.state = 'hello'
        this.nonce = randomBytes(8)
        this.helloSentAt = now
        if (this.carrier === 'udp') this.sendUdpToEveryPort(encodeHello(this.nonce))
        else this.send(encodeHello(this.nonce))
        if (this.unansweredHellos === V1_PROBE_AFTER_HELLOS) this.probeOldProtocol()
        this.nextActionAt = now + (this.speaksOldProtocol ? SLOW_RETRY_MS : this.retryMs)
        this.retryMs = Math.min(HELLO_RETRY_MAX_MS, this.retryMs * 2)
        return
      case 'registered':
        if (this.unanswered >= MISSED_KEEPALIVES) {
          this.lose(`${MISSED_KEEPALIVES} keepalives unanswered`)
          this.tick(now)
          return
        }
        this.sendKeepalive(now)
    }
  }

  /** Sends a datagram to the supernode over the carrier in use (queries, DEREGISTER, the link's own). */
  send(buf: Buffer): void {
    if (this.carrier === 'stream') this.stream?.send(buf, 0, buf.length, this.port, this.address ?? '')
    else if (this.address !== null) this.host.send(buf, this.address, this.port)
  }

  private sendUdpToEveryPort(buf: Buffer): void {
    if (this.address === null) return
    for (const port of this.ports) this.host.send(buf, this.address, port)
  }

  /** Whether a datagram that came in on `via` (null: the UDP socket) came over the carrier in use. */
  private onCarrier(via: Transport | null): boolean {
    return this.carrier === 'udp' ? via === null : via !== null && via === this.stream
  }

  // ---- the fallback: dialled at once, used after UDP's head start, closed when UDP answers ----

  /** The fallback is wanted unless UDP answered (registering or registered over it). */
  private wantsFallback(): boolean {
    return this.fallback !== null && !this.closed && !(this.carrier === 'udp' && this.state !== 'hello')
  }

  private tickFallback(now: number): void {
    if (!this.wantsFallback()) {
      if (this.stream !== null && this.carrier === 'udp') this.dropStream('UDP answered')
      return
    }
    if (this.stream === null && !this.dialling && now >= this.nextDialAt) this.dial()
    this.udpHeadStartExpired(now)
  }

  private dial(): void {
    if (this.host.openFallback === undefined || this.fallback === null) return
    this.dialling = true
    this.host.openFallback(this.fallback).then(
      (stream) => {
        this.dialling = false
        if (!this.wantsFallback()) {
          void stream.close()
          return
        }
        this.stream = stream
        this.dialBackoffMs = FALLBACK_RETRY_FIRST_MS
        stream.onClosed((why) => this.streamClosed(stream, why))
        this.udpHeadStartExpired(this.host.now())
      },
      (err: unknown) => {
        this.dialling = false
        this.scheduleDial()
        this.host.fallbackDown?.(this, (err as Error).message, null)
      },
    )
  }

  private scheduleDial(): void {
    this.nextDialAt = this.host.now() + this.dialBackoffMs
    this.dialBackoffMs = Math.min(FALLBACK_RETRY_MAX_MS, this.dialBackoffMs * 2)
  }

  /** UDP said nothing within its head start and the fallback is open: register over the fallback. */
  private udpHeadStartExpired(now: number): void {
    if (this.carrier !== 'udp' || this.state !== 'hello' || this.stream === null) return
    if (this.raceStartedAt === null || now - this.raceStartedAt < UDP_HEAD_START_MS) return
    this.carrier = 'stream'
    this.retryMs = HELLO_RETRY_FIRST_MS
    this.nextActionAt = now
    this.udpTry = { state: 'hello', nonce: randomBytes(8), announcementTimestamp: 0, registerSentAt: 0, port: this.port, nextHelloAt: now + UDP_RETRY_ON_FALLBACK_MS }
  }

  private streamClosed(stream: StreamCarrier, why: string): void {
    if (stream !== this.stream) return
    this.stream = null
    this.scheduleDial()
    this.host.fallbackDown?.(this, why, stream)
    if (this.carrier === 'stream') this.lose(`fallback ${why}`)
  }

  /** Closes the stream (UDP won, or the registration on it was lost); its datagrams stop here. */
  private dropStream(why: string): void {
    const stream = this.stream
    if (stream === null) return
    this.stream = null
    this.host.fallbackDown?.(this, why, stream)
    void stream.close()
  }

  // ---- the move back to UDP while on the fallback ----

  private tickUdpTry(now: number): void {
    const attempt = this.udpTry
    if (attempt === null || now < attempt.nextHelloAt) return
    if (this.address === null) {
      this.resolve()
      return
    }
    attempt.state = 'hello'
    attempt.nonce = randomBytes(8)
    attempt.nextHelloAt = now + UDP_RETRY_ON_FALLBACK_MS
    this.sendUdpToEveryPort(encodeHello(attempt.nonce))
  }

  private udpTryCookie(packet: Cookie, port: number): boolean {
    const attempt = this.udpTry
    if (attempt === null || attempt.state !== 'hello' || !packet.clientNonce.equals(attempt.nonce) || this.address === null) return false
    const announcement = this.host.announcement()
    attempt.state = 'registering'
    attempt.announcementTimestamp = announcement.timestamp
    attempt.registerSentAt = this.host.now()
    attempt.port = port
    this.host.send(encodeRegister(attempt.nonce, packet.cookie, announcement.bytes), this.address, port)
    return true
  }

  /** UDP registered while on the fallback: the registration is now the UDP one, and the stream goes. */
  private udpTryRegistered(packet: RegisterAck): boolean {
    const attempt = this.udpTry
    if (attempt === null || attempt.state !== 'registering' || packet.timestamp !== attempt.announcementTimestamp) return false
    this.udpTry = null
    this.carrier = 'udp'
    this.port = attempt.port
    this.nonce = attempt.nonce
    this.state = 'registering'
    this.announcementTimestamp = attempt.announcementTimestamp
    this.registerSentAt = attempt.registerSentAt
    this.acceptRegistration(packet)
    this.dropStream('back on UDP')
    return true
  }

  private sendKeepalive(now: number): void {
    this.keepaliveSeq++
    this.keepaliveSentAt = now
    this.unanswered++
    this.send(encodeKeepalive(PacketType.Keepalive, this.edgeId, this.keepaliveSeq))
    this.nextActionAt = now + Math.min(this.keepaliveMs, KEEPALIVE_RETRY_MS)
  }

  /** `via`: the socket it came in on (null: UDP), `port`: the supernode port it came from. */
  onCookie(packet: Cookie, via: Transport | null = null, port = this.port): void {
    if (via === null && this.udpTryCookie(packet, port)) return
    if (this.state !== 'hello' || !packet.clientNonce.equals(this.nonce) || !this.onCarrier(via)) return
    // several UDP ports said HELLO at once: the first to answer is the one kept
    if (via === null) this.port = port
    const now = this.host.now()
    // the HELLO → COOKIE round trip is the first RTT we know; keepalives refine it
    this.rttMs = now - this.helloSentAt
    this.unansweredHellos = 0
    this.helloOutstanding = false
    this.oldProbeNonce = null
    this.speaksOldProtocol = false
    const announcement = this.host.announcement()
    this.announcementTimestamp = announcement.timestamp
    this.registerSentAt = now
    this.state = 'registering'
    this.send(encodeRegister(this.nonce, packet.cookie, announcement.bytes))
  }

  onRegisterAck(packet: RegisterAck, via: Transport | null = null): void {
    if (via === null && this.udpTryRegistered(packet)) return
    if (this.state !== 'registering' || packet.timestamp !== this.announcementTimestamp || !this.onCarrier(via)) return
    this.acceptRegistration(packet)
  }

  /**
   * A datagram of protocol v1 from this supernode (the codec refused it as old-protocol): true when
   * it is the v1 COOKIE that answers our probe, so the supernode is overlan 0.1.
   */
  onOldProtocol(msg: Buffer): boolean {
    const nonce = oldProtocolCookieNonce(msg)
    if (nonce === null || this.oldProbeNonce === null || !nonce.equals(this.oldProbeNonce)) return false
    this.oldProbeNonce = null
    if (!this.speaksOldProtocol) {
      this.speaksOldProtocol = true
      this.host.oldProtocol?.(this)
    }
    return true
  }

  /** One HELLO of protocol v1 (UDP only: a fallback stream is the v2 supernode's own listener). */
  private probeOldProtocol(): void {
    if (this.carrier !== 'udp') return
    this.oldProbeNonce = randomBytes(8)
    this.sendUdpToEveryPort(encodeHello(this.oldProbeNonce, OLD_WIRE_VERSION))
  }

  private acceptRegistration(packet: RegisterAck): void {
    const now = this.host.now()
    this.refreshSince = null
    const before = this.reflexive
    const moved = before !== null && (before.address !== packet.reflexive.address || before.port !== packet.reflexive.port)
    this.state = 'registered'
    this.edgeId = packet.edgeId
    this.reflexive = packet.reflexive
    this.overlay = packet.overlay
    // the supernode read its clock between our REGISTER and its ACK: the midpoint is our best guess of when
    this.clockSkewMs = Math.round(packet.serverTimeMs - (this.registerSentAt + now) / 2)
    this.registrationNonce = this.nonce
    this.keepaliveSeq = randomInt(1, KEEPALIVE_SEQ_START_LIMIT)
    this.retryMs = HELLO_RETRY_FIRST_MS
    this.unanswered = 0
    // three times per interval the supernode expects: a lost keepalive does not expire us, and a
    // restarted supernode (which answers our next keepalive with unknown-edge) has us back in seconds
    this.keepaliveMs = Math.max(1000, Math.floor((packet.keepaliveSeconds * 1000) / 3))
    this.nextActionAt = now + this.keepaliveMs
    const previous = this.registeredOver
    this.registeredOver = this.transport
    // the first registration over UDP is no change; the first over the fallback is one (UDP failed)
    if (previous !== this.registeredOver && !(previous === null && this.registeredOver === 'udp')) this.host.carrierChanged?.(this, previous, this.registeredOver)
    this.host.registered(this, packet, moved)
  }

  onKeepaliveAck(packet: Keepalive, via: Transport | null = null): void {
    if (this.state !== 'registered' || packet.seq !== this.keepaliveSeq || !this.onCarrier(via)) return
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
      case ErrorCode.CertificateExpired:
      case ErrorCode.CertificateRevoked:
      case ErrorCode.CertificateNotYetValid:
      case ErrorCode.BadCertificate:
        return this.certificateRefused(packet, now)
      default:
        // a refused REGISTER: proved by its client nonce
        if (!this.answersRegister(proof)) return this.unproven()
        this.refusedRegistration(packet.code, now)
    }
  }

  /**
   * The supernode refuses our certificate: a REGISTER (proof: its client nonce), or our registration
   * (it unregistered us at notAfter or on a revocation; proof: the registration's nonce).
   */
  private certificateRefused(packet: ErrorPacket, now: number): void {
    const ofRegistration = this.registered && this.registrationNonce !== null && packet.proof.equals(this.registrationNonce)
    if (!ofRegistration && !this.answersRegister(packet.proof)) return this.unproven()
    if (ofRegistration) this.lose(`supernode says ${errorCodeName(packet.code)}`)
    this.refreshSince = null
    this.state = 'hello'
    this.nextActionAt = now + SLOW_RETRY_MS
    this.host.certificateRefused(this, packet.code)
  }

  private refusedRegistration(code: ErrorCode, now: number): void {
    const why = errorCodeName(code)
    // a registration again refused (but for a stale cookie): the link no longer counts the old one as held
    if (code !== ErrorCode.BadCookie) this.refreshSince = null
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
    if (now - this.hintCheckedAt < HINT_CHECK_MS) return
    this.hintCheckedAt = now
    this.sendKeepalive(now)
  }

  private unproven(): void {
    this.unprovenErrors++
    this.host.unprovenError()
  }

  /**
   * The edge registers again everywhere, at once, when its certificate changes (an assigned address,
   * a renewal, a re-issue after a refusal): a registration in flight carries the old announcement.
   */
  reregister(): void {
    if (this.closed) return
    if (this.state === 'registered') this.refreshSince = this.host.now()
    this.state = 'hello'
    this.helloOutstanding = false
    this.nextActionAt = 0
  }

  /** Stops dialling and closes the fallback (the edge is stopping; DEREGISTER went out before). */
  close(): Promise<void> {
    this.closed = true
    this.udpTry = null
    const stream = this.stream
    this.stream = null
    return stream?.close() ?? Promise.resolve()
  }

  private lose(why: string): void {
    const wasRegistered = this.registered
    this.refreshSince = null
    // the race starts again: UDP first, with its head start, and the fallback dialled at once; a
    // stream whose registration went quiet may be a dead TCP connection, so it is dialled anew
    if (this.carrier === 'stream') this.dropStream(why)
    this.carrier = 'udp'
    this.udpTry = null
    this.raceStartedAt = this.host.now()
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
        if (this.udpTry !== null) this.udpTry.nextHelloAt = this.host.now() + UDP_RETRY_ON_FALLBACK_MS
      })
      .finally(() => {
        this.resolving = false
      })
  }
}
