// Broadcast and unknown-unicast flooding (protocol v2, BROADCAST inside a RELAY to every member):
// each edge seals a flooded frame once, with a broadcast key of its own, and its supernode fans the
// one copy out. The key (random, named by a random key ID) goes to each peer inside their pair
// session (SessionKind.BroadcastKey), so only members we hold a session with can open what we
// flood; a new key is made every BROADCAST_KEY_ROTATE_MS and whenever a peer leaves (removed,
// expired, revoked), so a member that left cannot read what follows. A receiver keeps each
// sender's current key and the one before (for its valid-for time), with a replay window each.
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
  ) {}
}

/** A peer's broadcast keys as we hold them: its current one and, for its valid-for time, the one before. */
export class BroadcastReceiver {
  private current: ReceivedKey | null = null
  private previous: ReceivedKey | null = null

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
    this.current = new ReceivedKey(payload.keyId, key, payload.validForSeconds * 1000)
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

  /** Erases every key (the peer is removed). */
  destroy(): void {
    if (this.current !== null) broadcastKeySlab.release(this.current.key)
    if (this.previous !== null) broadcastKeySlab.release(this.previous.key)
    this.current = this.previous = null
  }
}
