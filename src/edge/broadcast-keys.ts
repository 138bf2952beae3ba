// Broadcast and unknown-unicast flooding (protocol v2, BROADCAST inside a RELAY to every member):
// each edge seals a flooded frame once, with a broadcast key of its own, and its supernode fans the
// one copy out. The key (random, named by a random key ID) goes to each peer inside their pair
// session (SessionKind.BroadcastKey), so only members we hold a session with can open what we
// flood; a new key is made every BROADCAST_KEY_ROTATE_MS and whenever a peer leaves (removed,
// expired, revoked), so a member that left cannot read what follows. A receiver keeps each
// sender's current key and the one before (for its valid-for time), with a replay window each.
// When it forgets a sender (idle, gone, evicted) it keeps, for as long as that key could be handed
// to it again, the highest counter each key opened: met again within the key's life, the sender
// hands the same key, and a broadcast captured before must not open a second time.
import sodium from 'sodium-native'
import { openAfterHeader, sealAfterHeader } from '../crypto/counter-aead.js'
import { ReplayWindow } from '../crypto/replay.js'
import { SecretSlab } from '../crypto/secret-slab.js'
import { destroySecret, secretBuffer } from '../crypto/secure-memory.js'
import { BROADCAST_KEY_BYTES, BROADCAST_KEY_PAYLOAD_BYTES, encodeBroadcastKeyPayload, writeBroadcastHeader, type BroadcastKeyPayload } from '../wire/index.js'

/** A sender's key lives this long (as a pair session's keys before their rekey). */
export const BROADCAST_KEY_ROTATE_MS = 120_000
/**
 * How long a replaced key still opens (the valid-for each key is handed with): broadcasts sealed
 * just before the rotation may still be on their way through the supernode. Short, because a
 * rotation after a member left is what keeps it from reading on.
 */
export const BROADCAST_KEY_VALID_FOR_S = 5
/**
 * Forgotten senders' keys remembered at once, at most (a few numbers each, ~100 bytes): four
 * times the peer table's bound, so evicting every peer four times over within a key's life is
 * what it takes to push a real sender's entry out.
 */
export const FORGOTTEN_BROADCAST_KEYS = 16_384
/**
 * How long after we received a key its sender may hand it to us again: it seals with a key for
 * BROADCAST_KEY_ROTATE_MS from making it (before we got it), and hands it only while it is current.
 */
export const FORGOTTEN_BROADCAST_KEY_MS = BROADCAST_KEY_ROTATE_MS + BROADCAST_KEY_VALID_FOR_S * 1000

/** Broadcast keys of this process, 32 bytes each, in locked memory (secret-slab.ts), zeroed when released. */
const broadcastKeySlab = new SecretSlab(BROADCAST_KEY_BYTES)

export type BroadcastDrop = 'unknown-broadcast-key' | 'replayed' | 'too-old' | 'auth-failed'

/** Our own broadcast key: what we seal flooded frames with. */
export class BroadcastSender {
  keyId = 0
  private key: Buffer | null = null
  private counter = 0
  private createdAt = 0
  private readonly idBytes = Buffer.alloc(4)
  /** the BroadcastKey payload of the current key (it holds the key: secret memory), made once per key */
  private readonly payloadBuf = secretBuffer(BROADCAST_KEY_PAYLOAD_BYTES)

  constructor(now: number) {
    this.rotate(now)
  }

  /** A new key and key ID; the old key is erased at once (we never seal with it again). */
  rotate(now: number): void {
    if (this.key !== null) broadcastKeySlab.release(this.key)
    const key = broadcastKeySlab.take()
    sodium.randombytes_buf(key)
    let id = 0
    while (id === 0 || id === this.keyId) {
      sodium.randombytes_buf(this.idBytes)
      id = this.idBytes.readUInt32BE(0)
    }
    this.key = key
    this.keyId = id
    this.counter = 0
    this.createdAt = now
    encodeBroadcastKeyPayload(this.payloadBuf, id, key, BROADCAST_KEY_VALID_FOR_S)
  }

  /** Whether the key is old enough to replace (BROADCAST_KEY_ROTATE_MS). */
  due(now: number): boolean {
    return now - this.createdAt >= BROADCAST_KEY_ROTATE_MS
  }

  /** The current key as a BroadcastKey payload (a reused buffer: seal it before the next rotation). */
  get payload(): Buffer {
    return this.payloadBuf
  }

  /** Seals `frame` as a BROADCAST packet into `out` (frame + 32 bytes). Returns its length. */
  seal(out: Buffer, frame: Uint8Array): number {
    const counter = ++this.counter
    writeBroadcastHeader(out, this.keyId, counter)
    return sealAfterHeader(out, frame, counter, this.key!)
  }

  /** Erases the key (the edge stops). */
  destroy(): void {
    if (this.key !== null) broadcastKeySlab.release(this.key)
    this.key = null
    destroySecret(this.payloadBuf)
  }
}

/** One received key of a peer. */
class ReceivedKey {
  readonly replay = new ReplayWindow()
  /** when a replaced key stops opening (ms); Infinity while it is the peer's current key */
  until = Infinity

  constructor(
    readonly keyId: number,
    readonly key: Buffer,
    readonly validForMs: number,
    /** when we received it: its sender cannot hand it again after FORGOTTEN_BROADCAST_KEY_MS */
    readonly receivedAt: number,
  ) {}
}

interface ForgottenKey {
  /** the highest counter the key opened */
  highest: number
  /** when its sender can no longer hand it to us (ms) */
  until: number
}

/**
 * The replay state of keys of senders we forgot, one table per edge: only the highest counter
 * each key opened (the sender's counter only grows, so refusing everything up to it refuses every
 * copy captured before). Keyed by sender edge ID and key ID; bounded, oldest forgotten first out.
 */
export class ForgottenBroadcastKeys {
  private readonly entries = new Map<string, ForgottenKey>()

  /** Keeps what a forgotten sender's key opened (nothing when it opened nothing or is past its life). */
  remember(senderId: number, keyId: number, highest: number, until: number): void {
    if (highest === 0) return
    const name = `${senderId}:${keyId}`
    this.entries.delete(name)
    if (this.entries.size >= FORGOTTEN_BROADCAST_KEYS) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(name, { highest, until })
  }

  /** The highest counter this sender's key opened before we forgot it (0: none, or too long ago). */
  recall(senderId: number, keyId: number, now: number): number {
    this.prune(now)
    const name = `${senderId}:${keyId}`
    const entry = this.entries.get(name)
    if (entry === undefined) return 0
    this.entries.delete(name)
    return now < entry.until ? entry.highest : 0
  }

  get size(): number {
    return this.entries.size
  }

  /** Entries past their life at the front (the oldest forgotten) go; the bound takes care of the rest. */
  private prune(now: number): void {
    for (const [name, entry] of this.entries) {
      if (now < entry.until) return
      this.entries.delete(name)
    }
  }
}

/** A peer's broadcast keys as we hold them: its current one and, for its valid-for time, the one before. */
export class BroadcastReceiver {
  private current: ReceivedKey | null = null
  private previous: ReceivedKey | null = null

  constructor(
    /** the sender, and where its keys' replay state goes when we forget it (null: nowhere) */
    private readonly senderId = 0,
    private readonly forgotten: ForgottenBroadcastKeys | null = null,
  ) {}

  /** The peer handed us a key inside our pair session (already authenticated as its). */
  accept(payload: BroadcastKeyPayload, now: number): void {
    const current = this.current
    // the same key again (re-sent after our session was re-established): its replay window stays
    if (current !== null && current.keyId === payload.keyId && current.key.equals(payload.key)) return
    if (this.previous !== null) broadcastKeySlab.release(this.previous.key)
    this.previous = current
    if (current !== null) current.until = now + current.validForMs
    const key = broadcastKeySlab.take()
    key.set(payload.key)
    const received = new ReceivedKey(payload.keyId, key, payload.validForSeconds * 1000, now)
    // a key we held before forgetting its sender: what it opened then stays refused
    const highest = this.forgotten?.recall(this.senderId, payload.keyId, now) ?? 0
    if (highest > 0) received.replay.refuseUpTo(highest)
    this.current = received
  }

  /**
   * Opens a BROADCAST `packet` (its header read: key ID and counter) of this peer into `out`.
   * Returns the frame's length, or why it was dropped.
   */
  open(packet: Buffer, keyId: number, counter: number, now: number, out: Buffer): number | BroadcastDrop {
    const held = this.current?.keyId === keyId ? this.current : this.previous?.keyId === keyId && now < this.previous.until ? this.previous : null
    if (held === null) return 'unknown-broadcast-key'
    const verdict = held.replay.check(counter)
    if (verdict !== 'fresh') return verdict
    const length = openAfterHeader(packet, counter, held.key, out)
    if (length < 0) return 'auth-failed'
    held.replay.accept(counter)
    return length
  }

  /** Erases every key (the peer is removed); what they opened is remembered (ForgottenBroadcastKeys). */
  destroy(): void {
    for (const held of [this.current, this.previous]) {
      if (held === null) continue
      this.forgotten?.remember(this.senderId, held.keyId, held.replay.highest, held.receivedAt + FORGOTTEN_BROADCAST_KEY_MS)
      broadcastKeySlab.release(held.key)
    }
    this.current = this.previous = null
  }
}
