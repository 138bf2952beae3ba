// A pair session: everything one edge keeps about its Noise session with one peer. It starts
// handshakes (retried with backoff, given up after REKEY_ATTEMPT_TIME_MS), answers the peer's,
// settles a simultaneous start by comparing static keys, holds up to three sets of transport keys
// (current for sending; previous and next for receiving, so that no packet in flight is lost to a
// rekey), rekeys by time and count, and erases keys as soon as they are replaced or expire.
// Its timers are the protocol's own events, run from onTimer(now); a SessionTable owns the indices
// that route packets here and the I/O. Frames the edge has before the session is ready wait in the
// edge's pending queue; the table's `ready` event says when to flush it.
import type { Clock } from '../time/clock.js'
import type { IkHandshake, StaticKey } from './noise-ik.js'
import { SessionKeys } from './session-keys.js'
import {
  decodeResponsePayload,
  encodeHandshakeInit,
  encodeHandshakeResponse,
  encodeInitPayload,
  encodeResponsePayload,
  SessionKind,
  type SessionCodecReason,
} from '../wire/handshake.js'

// WireGuard's timing figures (whitepaper §6.1), kept where they fit.
/** The initiator of the current keys starts a new handshake when sending with keys this old. */
export const REKEY_AFTER_TIME_MS = 120_000
/** Keys this old are neither used nor accepted, and are erased. */
export const REJECT_AFTER_TIME_MS = 180_000
/**
 * WireGuard rekeys after 2^60 messages and rejects after 2^64 - 2^13 - 1; our counters are safe
 * integers (< 2^53, the codec's u53), so the same margins below 2^53. Neither is reachable in
 * practice (2^52 frames at a million a second take 142 years); the rekey by time comes first.
 */
export const REKEY_AFTER_MESSAGES = 2 ** 52
export const REJECT_AFTER_MESSAGES = 2 ** 53 - 1 - 2 ** 13
export const KEEPALIVE_TIMEOUT_MS = 10_000
export const REKEY_TIMEOUT_MS = 5_000
/** A handshake unanswered for this long is given up (the edge hears `failed`). */
export const REKEY_ATTEMPT_TIME_MS = 90_000
/**
 * The responder of the current keys rekeys too, but later than the initiator would: one side alone
 * sending still rekeys before REJECT_AFTER_TIME, and the two rarely start at once.
 */
export const RESPONDER_REKEY_AFTER_MS = REJECT_AFTER_TIME_MS - KEEPALIVE_TIMEOUT_MS - REKEY_TIMEOUT_MS
/** First retry after 1 s, not WireGuard's fixed 5 s: a lost first initiation must not cost a first ping 5 s. */
export const RETRY_FIRST_MS = 1_000
export const RETRY_MAX_MS = REKEY_TIMEOUT_MS
/** Up to a third of a second added to each retry, as WireGuard does, so two peers' retries drift apart. */
export const RETRY_JITTER_MS = 333
/** At most 50 initiations a second answered per peer (WireGuard's rate): a replayed burst costs little. */
export const INITIATIONS_PER_PEER_PER_SECOND = 50

export interface SessionLimits {
  rekeyAfterTimeMs: number
  rejectAfterTimeMs: number
  responderRekeyAfterMs: number
  rekeyAfterMessages: number
  rejectAfterMessages: number
  rekeyAttemptTimeMs: number
}

export const DEFAULT_LIMITS: SessionLimits = {
  rekeyAfterTimeMs: REKEY_AFTER_TIME_MS,
  rejectAfterTimeMs: REJECT_AFTER_TIME_MS,
  responderRekeyAfterMs: RESPONDER_REKEY_AFTER_MS,
  rekeyAfterMessages: REKEY_AFTER_MESSAGES,
  rejectAfterMessages: REJECT_AFTER_MESSAGES,
  rekeyAttemptTimeMs: REKEY_ATTEMPT_TIME_MS,
}

/** Why a handshake message was refused after it decoded (the table adds the codec's and the Noise layer's). */
export type HandshakeRefusal =
  | 'certificate-refused' // the verifier did not accept the certificate
  | 'static-key-mismatch' // the certificate binds another key than the handshake's static key
  | 'replayed-initiation' // a timestamp not above the last one accepted from this peer
  | 'initiation-rate-limited'
  | 'simultaneous-initiation' // both started at once and ours wins the tie-break: theirs is ignored
  | 'no-handshake-pending' // a response to no initiation of ours (late, duplicated or forged)
  | 'session-closed'
  | SessionCodecReason

/** What a session needs from its table: identity, clock, I/O, indices, events. */
export interface SessionHost {
  readonly local: { key: StaticKey; certificate: Buffer }
  readonly prologue: Buffer
  readonly clock: Clock
  readonly limits: SessionLimits
  random(): number
  verifyCertificate(certificate: Buffer): Buffer | null
  allocateIndex(session: PairSession): number
  releaseIndex(index: number): void
  send(session: PairSession, packet: Buffer): void
  makeInitiator(peerStatic: Buffer): IkHandshake
  ready(session: PairSession): void
  /** new keys replaced ready ones (a rekey, or a handshake with the peer's restarted process) */
  rekeyed?(session: PairSession): void
  failed(session: PairSession): void
}

export type PairSessionState = 'idle' | 'handshaking' | 'ready' | 'closed'

interface PendingHandshake {
  /** null once a refused response spent it: the next retry makes a fresh one */
  ik: IkHandshake | null
  index: number
  firstAttemptAt: number
  attempts: number
  retryAt: number
}

export interface PairSessionCounters {
  initiationsSent: number
  retries: number
  handshakesCompleted: number
  initiationsAnswered: number
  handshakesFailed: number
  /** our own initiation given up because the peer's won the tie-break */
  yieldedToPeer: number
  rekeys: number
  keysErased: number
}

export class PairSession {
  current: SessionKeys | null = null
  previous: SessionKeys | null = null
  next: SessionKeys | null = null
  /** the peer's certificate from its last handshake (or the one we connected with) */
  peerCertificate: Buffer | null
  readonly counters: PairSessionCounters = {
    initiationsSent: 0,
    retries: 0,
    handshakesCompleted: 0,
    initiationsAnswered: 0,
    handshakesFailed: 0,
    yieldedToPeer: 0,
    rekeys: 0,
    keysErased: 0,
  }
  private pending: PendingHandshake | null = null
  private closed = false
  /** the peer's highest initiation timestamp accepted: anything not above it is a replay */
  private lastPeerTimestamp = 0
  private lastAnsweredAt = -Infinity
  private lastOwnTimestamp = 0
  /** when we sealed data the peer has not answered since (0: nothing unanswered) */
  private unansweredSince = 0
  /** when the peer sent us something we have not answered since (0: nothing unanswered) */
  private unrepliedSince = 0
  /** did this side's static key win the simultaneous-start tie-break against this peer? */
  private readonly winsTieBreak: boolean

  constructor(
    /** the peer's Ed25519 static key: what its certificate binds */
    readonly peerStatic: Buffer,
    peerCertificate: Buffer | null,
    private readonly host: SessionHost,
  ) {
    this.peerCertificate = peerCertificate
    this.winsTieBreak = Buffer.compare(host.local.key.publicKey, peerStatic) < 0
  }

  get state(): PairSessionState {
    if (this.closed) return 'closed'
    if (this.current !== null) return 'ready'
    return this.pending !== null ? 'handshaking' : 'idle'
  }

  /** A handshake is in flight while the current keys still work. */
  get rekeying(): boolean {
    return this.current !== null && this.pending !== null
  }

  /** The index our pending initiation is answered under (0: none). */
  get pendingIndex(): number {
    return this.pending?.index ?? 0
  }

  /** The peer's newest initiation timestamp this session accepted (0: none). */
  get lastInitiationTimestamp(): number {
    return this.lastPeerTimestamp
  }

  /**
   * Refuses the peer's initiations with timestamps up to `timestamp`: what a session made again for
   * a peer that was forgotten carries over, so a recorded initiation cannot start it again.
   */
  refuseInitiationsUpTo(timestamp: number): void {
    if (timestamp > this.lastPeerTimestamp) this.lastPeerTimestamp = timestamp
  }

  /** Starts a handshake unless one is in flight. False when closed or already handshaking. */
  initiate(): boolean {
    if (this.closed || this.pending !== null) return false
    const now = this.host.clock.now()
    this.sendInitiation(now, now, 0)
    return true
  }

  /**
   * Seals `payload` with the current keys into `out` (payload + 32 bytes). Returns the packet's
   * length, or -1 when no keys can send: the caller keeps the frame in its pending queue, a
   * handshake is under way, and `ready` fires when it can send.
   */
  seal(out: Buffer, payload: Uint8Array, kind: SessionKind = SessionKind.Frame): number {
    const keys = this.current
    const now = this.host.clock.now()
    if (keys === null || this.unusable(keys, now)) {
      if (this.pending === null && !this.closed) this.initiate()
      return -1
    }
    const length = keys.seal(out, payload, kind)
    this.unrepliedSince = 0
    if (this.unansweredSince === 0) this.unansweredSince = now
    if (this.pending === null && this.dueForRekeySending(keys, now)) this.initiate()
    return length
  }

  /** The keys a packet addressed to `index` was sealed with, if this session still has them. */
  keysFor(index: number): SessionKeys | null {
    if (this.current?.localIndex === index) return this.current
    if (this.next?.localIndex === index) return this.next
    if (this.previous?.localIndex === index) return this.previous
    return null
  }

  /** Keys too old or too used to send or receive with. */
  unusable(keys: SessionKeys, now: number): boolean {
    return now - keys.createdAt >= this.host.limits.rejectAfterTimeMs || keys.sendCounter >= this.host.limits.rejectAfterMessages
  }

  /** A packet authenticated with `keys`: confirms a responder's new keys, and may start a rekey. */
  received(keys: SessionKeys, now: number): void {
    this.unansweredSince = 0
    if (this.unrepliedSince === 0) this.unrepliedSince = now
    if (keys === this.next) {
      keys.confirmed = true
      this.next = null
      this.rotateIn(keys)
    }
    // WireGuard's keepKeyFreshReceiving: the initiator rekeys before keys it only receives on expire
    const current = this.current
    if (current !== null && current.initiator && this.pending === null && now - current.createdAt >= this.host.limits.responderRekeyAfterMs) this.initiate()
  }

  /**
   * The peer's initiation, already decrypted by `ik` (its static key is ours to trust only because
   * the table matched it to this session's peer). Answers it, or says why not.
   */
  answerInitiation(ik: IkHandshake, senderIndex: number, timestamp: number, certificate: Buffer): { reply: Buffer } | { refused: HandshakeRefusal } {
    if (this.closed) return { refused: 'session-closed' }
    const now = this.host.clock.now()
    if (timestamp <= this.lastPeerTimestamp) return { refused: 'replayed-initiation' }
    if (now - this.lastAnsweredAt < 1000 / INITIATIONS_PER_PEER_PER_SECOND) return { refused: 'initiation-rate-limited' }
    if (this.pending !== null) {
      // both sides started at once: the lower static key's initiation goes on, the other is dropped
      if (this.winsTieBreak && this.pending.ik !== null) return { refused: 'simultaneous-initiation' }
      this.abandonPending()
      this.counters.yieldedToPeer++
    }
    this.lastPeerTimestamp = timestamp
    this.lastAnsweredAt = now
    this.peerCertificate = certificate
    const localIndex = this.host.allocateIndex(this)
    const noise = ik.write(encodeResponsePayload(this.host.local.certificate))
    const keys = new SessionKeys(localIndex, senderIndex, false, now, (slot) => ik.takeTransportKeys(slot))
    // an unconfirmed answer to an earlier initiation is superseded: the peer has moved on
    if (this.next !== null) this.eraseKeys(this.next)
    this.next = keys
    this.counters.initiationsAnswered++
    return { reply: encodeHandshakeResponse(localIndex, senderIndex, noise) }
  }

  /** The peer's response to our pending initiation (the table found us by its receiver index). */
  completeInitiation(senderIndex: number, noise: Buffer): HandshakeRefusal | 'handshake-decrypt-failed' | 'bad-handshake-key' | null {
    const pending = this.pending
    if (pending === null || pending.ik === null) return 'no-handshake-pending'
    const ik = pending.ik
    const read = ik.read(noise)
    if (!read.ok) {
      this.spendPending()
      return read.reason
    }
    const payload = decodeResponsePayload(read.payload)
    if (!payload.ok) {
      this.spendPending()
      return payload.reason
    }
    const boundKey = this.host.verifyCertificate(payload.value)
    if (boundKey === null || !boundKey.equals(this.peerStatic)) {
      this.spendPending()
      return boundKey === null ? 'certificate-refused' : 'static-key-mismatch'
    }
    this.peerCertificate = payload.value
    const now = this.host.clock.now()
    const keys = new SessionKeys(pending.index, senderIndex, true, now, (slot) => ik.takeTransportKeys(slot))
    this.pending = null
    this.counters.handshakesCompleted++
    // a responder-side set we never used is superseded by this one
    if (this.next !== null) {
      this.eraseKeys(this.next)
      this.next = null
    }
    this.rotateIn(keys)
    // the responder may send only once it has heard from us under the new keys: tell it now
    if (keys.sendCounter === 0) {
      const out = Buffer.alloc(32)
      this.host.send(this, out.subarray(0, keys.seal(out, EMPTY)))
    }
    return null
  }

  /** The protocol's timers, due or not: the owner calls this on a short period (SessionTable.start). */
  onTimer(now: number): void {
    if (this.closed) return
    this.expiredRetransmitHandshake(now)
    this.expiredKeys(now)
    this.expiredNewHandshake(now)
    this.expiredKeepalive(now)
  }

  /** Erases every key and handshake secret and gives back every index. */
  close(): void {
    if (this.closed) return
    this.abandonPending()
    for (const keys of [this.current, this.previous, this.next]) if (keys !== null) this.eraseKeys(keys)
    this.current = this.previous = this.next = null
    this.closed = true
  }

  private expiredRetransmitHandshake(now: number): void {
    const pending = this.pending
    if (pending === null || now < pending.retryAt) return
    if (now - pending.firstAttemptAt >= this.host.limits.rekeyAttemptTimeMs) {
      this.abandonPending()
      this.counters.handshakesFailed++
      this.host.failed(this)
      return
    }
    // a fresh ephemeral, timestamp and index each time: a retry is a new initiation
    const { firstAttemptAt, attempts } = pending
    this.abandonPending()
    this.counters.retries++
    this.sendInitiation(now, firstAttemptAt, attempts + 1)
  }

  /**
   * WireGuard's new-handshake timer: we sent and have heard nothing back for KEEPALIVE_TIMEOUT +
   * REKEY_TIMEOUT. The peer may have forgotten the session (it removed us as idle, or restarted
   * with the same identity): a new handshake finds out, and makes a session it knows.
   */
  private expiredNewHandshake(now: number): void {
    if (this.unansweredSince === 0 || this.pending !== null || this.current === null) return
    if (now - this.unansweredSince < KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS) return
    this.unansweredSince = 0
    this.initiate()
  }

  /**
   * WireGuard's passive keepalive: the peer sent us data and we have sent nothing since, for
   * KEEPALIVE_TIMEOUT: an empty packet tells it the session lives (its new-handshake timer waits
   * for one), so one-way traffic does not make it start a handshake every 15 s.
   */
  private expiredKeepalive(now: number): void {
    const keys = this.current
    if (keys === null || this.unrepliedSince === 0 || now - this.unrepliedSince < KEEPALIVE_TIMEOUT_MS) return
    this.unrepliedSince = 0
    if (this.unusable(keys, now)) return
    const out = Buffer.alloc(32)
    this.host.send(this, out.subarray(0, keys.seal(out, EMPTY)))
  }

  private expiredKeys(now: number): void {
    const reject = this.host.limits.rejectAfterTimeMs
    if (this.previous !== null && now - this.previous.createdAt >= reject) this.previous = this.eraseKeys(this.previous)
    if (this.next !== null && now - this.next.createdAt >= reject) this.next = this.eraseKeys(this.next)
    if (this.current !== null && now - this.current.createdAt >= reject) this.current = this.eraseKeys(this.current)
  }

  private sendInitiation(now: number, firstAttemptAt: number, attempts: number): void {
    const ik = this.host.makeInitiator(this.peerStatic)
    const index = this.host.allocateIndex(this)
    // strictly increasing even within one millisecond: the responder refuses a timestamp it has seen
    const timestamp = Math.max(now, this.lastOwnTimestamp + 1)
    this.lastOwnTimestamp = timestamp
    const noise = ik.write(encodeInitPayload(timestamp, this.host.local.certificate))
    const backoff = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempts) + Math.floor(this.host.random() * RETRY_JITTER_MS)
    this.pending = { ik, index, firstAttemptAt, attempts, retryAt: now + backoff }
    this.counters.initiationsSent++
    this.host.send(this, encodeHandshakeInit(index, noise))
  }

  /** New keys become current; the old current stays for packets in flight; the one before is erased. */
  private rotateIn(keys: SessionKeys): void {
    const wasReady = this.current !== null
    if (this.previous !== null) this.eraseKeys(this.previous)
    this.previous = this.current
    this.current = keys
    if (wasReady) {
      this.counters.rekeys++
      this.host.rekeyed?.(this)
    } else this.host.ready(this)
  }

  private dueForRekeySending(keys: SessionKeys, now: number): boolean {
    const limits = this.host.limits
    if (keys.sendCounter >= limits.rekeyAfterMessages) return true
    return now - keys.createdAt >= (keys.initiator ? limits.rekeyAfterTimeMs : limits.responderRekeyAfterMs)
  }

  /** A refused response spent the handshake state: erase it now, retry when the retry timer says. */
  private spendPending(): void {
    const pending = this.pending!
    pending.ik?.destroy()
    pending.ik = null
  }

  private abandonPending(): void {
    const pending = this.pending
    if (pending === null) return
    pending.ik?.destroy()
    this.host.releaseIndex(pending.index)
    this.pending = null
  }

  private eraseKeys(keys: SessionKeys): null {
    keys.erase()
    this.host.releaseIndex(keys.localIndex)
    this.counters.keysErased++
    return null
  }
}

const EMPTY = new Uint8Array(0)
