// A device's pair sessions: one PairSession per peer (by static key), the table of session indices
// that routes every v2 packet to its session, the responder's side of a handshake up to the moment
// it knows who is calling, and one drop counter per reason. The edge hands it datagrams and the
// peer certificates the supernode gave it; it hands back opened payloads and packets to send.
import sodium from 'sodium-native'
import type { Clock, TimerHandle } from '../time/clock.js'
import { IkHandshake, sessionPrologue, staticKeyFrom, destroyStaticKey, type StaticKey, type HandshakeFailure } from './noise-ik.js'
import { DEFAULT_LIMITS, PairSession, type HandshakeRefusal, type SessionHost, type SessionLimits } from './noise-session.js'
import {
  SESSION_CODEC_REASONS,
  SESSION_WIRE_VERSION,
  SessionDataHeader,
  SessionKind,
  SessionPacketType,
  decodeInitPayload,
  decodeSessionPacket,
  readSessionDataHeader,
} from '../wire/handshake.js'
import { zeroCounters, type ReasonCounters } from '../wire/reasons.js'

/** How often the protocol's timers are looked at: retries and expiries happen within this of their time. */
export const TIMER_TICK_MS = 250
/**
 * Forgotten peers whose newest initiation timestamp is kept (until their certificate's notAfter):
 * ~100 bytes each. Past this the oldest go; a replayed initiation of one of them can then make a
 * session answer again, which the initiator's missing keys leave unusable.
 */
export const MAX_FORGOTTEN_PEERS = 4096

export const SESSION_DROP_REASONS = [
  ...SESSION_CODEC_REASONS,
  'handshake-decrypt-failed',
  'bad-handshake-key',
  'certificate-refused',
  'static-key-mismatch',
  'replayed-initiation',
  'initiation-rate-limited',
  'simultaneous-initiation',
  'no-handshake-pending',
  'session-closed',
  'unknown-index', // no session has this receiver index (never had, or its keys were erased)
  'keys-expired', // the keys it names are past REJECT_AFTER_TIME or REJECT_AFTER_MESSAGES
  'replayed',
  'too-old', // behind the replay window
  'auth-failed', // the data packet's tag did not verify
] as const
export type SessionDropReason = (typeof SESSION_DROP_REASONS)[number]

export interface SessionTableConfig {
  /** this edge's Ed25519 identity (libsodium's 64-byte secret key); copied into secret memory */
  identity: { publicKey: Uint8Array; secretKey: Uint8Array }
  /** this edge's certificate, opaque here (≤ 300 bytes) */
  certificate: Buffer
  communityId: Buffer
  clock: Clock
  /** Checks a peer's certificate; returns the static public key it binds, or null to refuse it. */
  verifyCertificate(certificate: Buffer): Buffer | null
  /** Sends a packet a session made on its own (initiations, retries, the confirming keepalive) to its peer. */
  send(session: PairSession, packet: Buffer): void
  /** The session can seal: flush the frames waiting for it. */
  onReady?(session: PairSession): void
  /** New keys replaced ready ones: a peer that restarted has none of what we handed it in the old session. */
  onRekeyed?(session: PairSession): void
  /** A handshake went unanswered for REKEY_ATTEMPT_TIME_MS: drop what waits for this peer. */
  onFailed?(session: PairSession): void
  limits?: Partial<SessionLimits>
  /** jitter source for retries (tests fix it) */
  random?: () => number
}

export type ReceiveKind = 'data' | 'handshake' | 'dropped'

/** Reused for every datagram: read it before handing the table the next one. */
export class ReceiveResult {
  kind: ReceiveKind = 'dropped'
  session: PairSession | null = null
  /** payload bytes written to `out` (data; 0 for a keepalive) */
  length = 0
  /** what the data's payload is (its SESSION_DATA kind) */
  dataKind: SessionKind = SessionKind.Frame
  reason: SessionDropReason | null = null
  /** a handshake response to send back the way the initiation came */
  reply: Buffer | null = null
}

export interface SessionTableCounters {
  dataOpened: number
  keepalivesOpened: number
  sessionsCreated: number
}

export class SessionTable {
  readonly drops: ReasonCounters<SessionDropReason> = zeroCounters(SESSION_DROP_REASONS)
  readonly counters: SessionTableCounters = { dataOpened: 0, keepalivesOpened: 0, sessionsCreated: 0 }
  private readonly host: SessionHost
  private readonly local: { key: StaticKey; certificate: Buffer }
  private readonly localKey: StaticKey
  private readonly byIndex = new Map<number, PairSession>()
  private readonly byPeer = new Map<string, PairSession>()
  /** peer static key (hex) → its last initiation timestamp, kept until `until` (ms) */
  private readonly forgotten = new Map<string, { timestamp: number; until: number }>()
  private readonly result = new ReceiveResult()
  private readonly header = new SessionDataHeader()
  private readonly indexBytes = Buffer.alloc(4)
  private timer: TimerHandle | null = null

  constructor(private readonly config: SessionTableConfig) {
    if (config.certificate.length < 1 || config.certificate.length > 300) throw new RangeError('certificate must be 1..300 bytes')
    this.localKey = staticKeyFrom(config.identity)
    const prologue = sessionPrologue(config.communityId, SESSION_WIRE_VERSION)
    const limits = { ...DEFAULT_LIMITS, ...config.limits }
    const local = { key: this.localKey, certificate: config.certificate }
    this.local = local
    this.host = {
      local,
      prologue,
      clock: config.clock,
      limits,
      random: config.random ?? Math.random,
      verifyCertificate: (cert) => config.verifyCertificate(cert),
      allocateIndex: (session) => this.allocateIndex(session),
      releaseIndex: (index) => void this.byIndex.delete(index),
      send: (session, packet) => config.send(session, packet),
      makeInitiator: (peerStatic) => IkHandshake.initiator(local.key, peerStatic, prologue),
      ready: (session) => config.onReady?.(session),
      rekeyed: (session) => config.onRekeyed?.(session),
      failed: (session) => config.onFailed?.(session),
    }
  }

  /**
   * This edge's certificate changed (re-issued with an assigned address, renewed): the handshakes
   * that follow carry the new one. Every ready session rekeys at once, so that each peer learns it
   * now rather than at the next rekey.
   */
  setCertificate(certificate: Buffer): void {
    if (certificate.length < 1 || certificate.length > 300) throw new RangeError('certificate must be 1..300 bytes')
    this.local.certificate = certificate
    for (const session of this.byPeer.values()) if (session.state === 'ready') session.initiate()
  }

  /** The session with the peer this certificate names (made if new), or null when the certificate is refused. */
  connect(peerCertificate: Buffer): PairSession | null {
    const peerStatic = this.config.verifyCertificate(peerCertificate)
    if (peerStatic === null) return null
    return this.sessionFor(peerStatic, peerCertificate)
  }

  /**
   * The session with the peer whose static key this is (made if new), for a certificate already
   * verified by the caller (the edge's peer table checks it once for everything it binds).
   */
  open(peerStatic: Buffer, certificate: Buffer): PairSession {
    return this.sessionFor(peerStatic, certificate)
  }

  session(peerStatic: Uint8Array): PairSession | undefined {
    return this.byPeer.get(Buffer.from(peerStatic).toString('hex'))
  }

  get size(): number {
    return this.byPeer.size
  }

  /** Indices in use (keys and handshakes in flight): each routes packets to one session. */
  get indexCount(): number {
    return this.byIndex.size
  }

  /**
   * Takes one v2 datagram (untrusted). Data is opened into `out`; a handshake is answered
   * (result.reply) or completed; anything else is dropped and counted under result.reason.
   */
  receive(datagram: Buffer, out: Buffer): ReceiveResult {
    const result = this.result
    result.kind = 'dropped'
    result.session = null
    result.length = 0
    result.reason = null
    result.reply = null
    if (datagram.length > 1 && datagram[1] === SessionPacketType.SessionData) return this.receiveData(datagram, out)
    const decoded = decodeSessionPacket(datagram)
    if (!decoded.ok) return this.drop(decoded.reason)
    const packet = decoded.value
    if (packet.type === SessionPacketType.HandshakeInit) return this.receiveInitiation(packet.senderIndex, packet.noise)
    if (packet.type === SessionPacketType.HandshakeResponse) {
      const session = this.byIndex.get(packet.receiverIndex)
      if (session === undefined || session.pendingIndex !== packet.receiverIndex) return this.drop('no-handshake-pending')
      const refused = session.completeInitiation(packet.senderIndex, packet.noise)
      if (refused !== null) return this.drop(refused, session)
      return this.handled(session)
    }
    return this.receiveData(datagram, out)
  }

  /** Runs every session's timers (SessionTable.start does it every TIMER_TICK_MS). */
  onTimer(now: number): void {
    for (const session of this.byPeer.values()) session.onTimer(now)
  }

  start(): void {
    this.timer ??= this.config.clock.every(TIMER_TICK_MS, () => this.onTimer(this.config.clock.now()))
  }

  /**
   * Closes one session (the peer left, or its certificate expired or was revoked): keys erased.
   * Its newest initiation timestamp is kept until `keepReplayUntilMs` (the certificate's notAfter:
   * past it no initiation with that certificate is accepted anyway), so that a recorded initiation
   * cannot open a session with this peer again.
   */
  forget(session: PairSession, keepReplayUntilMs = 0): void {
    session.close()
    const id = session.peerStatic.toString('hex')
    if (this.byPeer.get(id) === session) this.byPeer.delete(id)
    const timestamp = session.lastInitiationTimestamp
    if (timestamp === 0 || keepReplayUntilMs <= this.config.clock.now()) return
    this.forgotten.delete(id)
    this.forgotten.set(id, { timestamp, until: keepReplayUntilMs })
    if (this.forgotten.size > MAX_FORGOTTEN_PEERS) this.forgotten.delete(this.forgotten.keys().next().value!)
  }

  /** Closes every session and erases this edge's static key copy. */
  close(): void {
    this.timer?.cancel()
    this.timer = null
    for (const session of this.byPeer.values()) session.close()
    this.byPeer.clear()
    this.byIndex.clear()
    destroyStaticKey(this.localKey)
  }

  private receiveData(datagram: Buffer, out: Buffer): ReceiveResult {
    const header = this.header
    const reason = readSessionDataHeader(datagram, header)
    if (reason !== null) return this.drop(reason)
    const session = this.byIndex.get(header.receiverIndex)
    const keys = session?.keysFor(header.receiverIndex) ?? null
    if (session === undefined || keys === null) return this.drop('unknown-index')
    const now = this.config.clock.now()
    if (session.unusable(keys, now) || header.counter >= this.host.limits.rejectAfterMessages) return this.drop('keys-expired', session)
    const verdict = keys.replay.check(header.counter)
    if (verdict !== 'fresh') return this.drop(verdict, session)
    const length = keys.open(datagram, header.counter, out)
    if (length < 0) return this.drop('auth-failed', session)
    keys.replay.accept(header.counter)
    session.received(keys, now)
    if (length === 0) this.counters.keepalivesOpened++
    else this.counters.dataOpened++
    const result = this.result
    result.kind = 'data'
    result.session = session
    result.length = length
    result.dataKind = header.kind
    return result
  }

  private receiveInitiation(senderIndex: number, noise: Buffer): ReceiveResult {
    const ik = IkHandshake.responder(this.localKey, this.host.prologue)
    const read = ik.read(noise)
    if (!read.ok) {
      ik.destroy()
      return this.drop(read.reason)
    }
    const answered = this.answer(ik, senderIndex, read.payload)
    if (answered instanceof ReceiveResult) return answered
    ik.destroy()
    return this.drop(answered.reason, answered.session)
  }

  /** Who is calling, whether their certificate says so, and the session's answer. */
  private answer(ik: IkHandshake, senderIndex: number, plaintext: Buffer): ReceiveResult | { reason: HandshakeRefusal | HandshakeFailure; session: PairSession | null } {
    const payload = decodeInitPayload(plaintext)
    if (!payload.ok) return { reason: payload.reason, session: null }
    const boundKey = this.config.verifyCertificate(payload.value.certificate)
    if (boundKey === null) return { reason: 'certificate-refused', session: null }
    const remoteStatic = ik.remoteStatic!
    if (!boundKey.equals(remoteStatic)) return { reason: 'static-key-mismatch', session: null }
    const session = this.sessionFor(remoteStatic, payload.value.certificate)
    const answer = session.answerInitiation(ik, senderIndex, payload.value.timestamp, payload.value.certificate)
    if ('refused' in answer) return { reason: answer.refused, session }
    const result = this.handled(session)
    result.reply = answer.reply
    return result
  }

  private sessionFor(peerStatic: Buffer, certificate: Buffer): PairSession {
    const id = peerStatic.toString('hex')
    let session = this.byPeer.get(id)
    if (session === undefined) {
      session = new PairSession(Buffer.from(peerStatic), certificate, this.host)
      const forgotten = this.forgotten.get(id)
      if (forgotten !== undefined) {
        this.forgotten.delete(id)
        if (forgotten.until > this.config.clock.now()) session.refuseInitiationsUpTo(forgotten.timestamp)
      }
      this.byPeer.set(id, session)
      this.counters.sessionsCreated++
    }
    return session
  }

  /** A random index no key or handshake of this device uses: hard to guess for an off-path sender. */
  private allocateIndex(session: PairSession): number {
    for (;;) {
      sodium.randombytes_buf(this.indexBytes)
      const index = this.indexBytes.readUInt32BE(0)
      if (index !== 0 && !this.byIndex.has(index)) {
        this.byIndex.set(index, session)
        return index
      }
    }
  }

  private handled(session: PairSession): ReceiveResult {
    const result = this.result
    result.kind = 'handshake'
    result.session = session
    return result
  }

  private drop(reason: SessionDropReason, session: PairSession | null = null): ReceiveResult {
    this.drops[reason]++
    const result = this.result
    result.kind = 'dropped'
    result.reason = reason
    result.session = session
    return result
  }
}
