// One set of transport keys of a pair session (WireGuard calls it a keypair): a send key and a
// receive key from one Noise handshake, the send counter, the receive replay window, and the
// indices that name it on the wire. Keys live in slots of secret memory, zeroed by erase().
import sodium from 'sodium-native'
import { KEY_BYTES, TRANSPORT_KEYS_BYTES } from './noise-ik.js'
import { ReplayWindow } from './replay.js'
import { SecretSlab } from './secret-slab.js'
import { SESSION_HEADER_BYTES, SESSION_TAG_BYTES, SessionKind, writeSessionDataHeader } from '../wire/handshake.js'

const NONCE_BYTES = 12
const TWO_TO_32 = 4294967296
const AUTH_FAILURE = 'could not verify data'

/**
 * One nonce buffer for every seal and open in this thread: each call fills it and is done with it
 * before returning, and one per set of keys would cost ~200 bytes a session for 12 bytes of use.
 */
const nonce = Buffer.alloc(NONCE_BYTES)

/** The process's transport keys: 64 sessions' keys to a locked page (secret-slab.ts). */
export const transportKeySlab = new SecretSlab(TRANSPORT_KEYS_BYTES)

export class SessionKeys {
  /** the last counter sealed (the next packet carries sendCounter + 1) */
  sendCounter = 0
  readonly replay = new ReplayWindow()
  /** a responder's keys are confirmed by the first packet the initiator seals with them */
  confirmed: boolean
  private slot: Buffer | null
  private readonly sendKey: Uint8Array
  private readonly recvKey: Uint8Array

  /**
   * `fill` writes send key ‖ receive key into the slot (IkHandshake.takeTransportKeys).
   * `localIndex` names these keys in packets sent to us, `remoteIndex` in packets we send.
   */
  constructor(
    readonly localIndex: number,
    readonly remoteIndex: number,
    /** true when we initiated the handshake that made them */
    readonly initiator: boolean,
    readonly createdAt: number,
    fill: (slot: Buffer) => void,
  ) {
    const slot = transportKeySlab.take()
    fill(slot)
    this.slot = slot
    this.sendKey = new Uint8Array(slot.buffer, slot.byteOffset, KEY_BYTES)
    this.recvKey = new Uint8Array(slot.buffer, slot.byteOffset + KEY_BYTES, KEY_BYTES)
    this.confirmed = initiator
  }

  get erased(): boolean {
    return this.slot === null
  }

  /**
   * Seals `payload` as a SESSION_DATA packet into `out` (header, ciphertext, tag) under the next
   * counter, marked as `kind`. Returns its length; `out` must hold payload + 32 bytes.
   */
  seal(out: Buffer, payload: Uint8Array, kind: SessionKind = SessionKind.Frame): number {
    if (this.slot === null) throw new Error('seal with erased session keys')
    const counter = ++this.sendCounter
    const length = SESSION_HEADER_BYTES + payload.length + SESSION_TAG_BYTES
    writeSessionDataHeader(out, this.remoteIndex, counter, kind)
    nonceFor(nonce, counter)
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(
      new Uint8Array(out.buffer, out.byteOffset + SESSION_HEADER_BYTES, length - SESSION_HEADER_BYTES),
      payload,
      new Uint8Array(out.buffer, out.byteOffset, SESSION_HEADER_BYTES),
      null,
      nonce,
      this.sendKey,
    )
    return length
  }

  /**
   * Opens a SESSION_DATA packet whose header readSessionDataHeader accepted (its counter given)
   * into `out`. Returns the payload length, or -1 when authentication fails. The replay window is
   * the caller's to check before and to move after.
   */
  open(packet: Buffer, counter: number, out: Buffer): number {
    const length = packet.length - SESSION_HEADER_BYTES - SESSION_TAG_BYTES
    if (this.slot === null || length < 0 || out.length < length) return -1
    nonceFor(nonce, counter)
    try {
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt(
        new Uint8Array(out.buffer, out.byteOffset, length),
        null,
        new Uint8Array(packet.buffer, packet.byteOffset + SESSION_HEADER_BYTES, packet.length - SESSION_HEADER_BYTES),
        new Uint8Array(packet.buffer, packet.byteOffset, SESSION_HEADER_BYTES),
        nonce,
        this.recvKey,
      )
    } catch (err) {
      // sodium-native reports a failed tag check by throwing; that is a bad packet, anything else a bug
      if (err instanceof Error && err.message === AUTH_FAILURE) return -1
      throw err
    }
    return length
  }

  /** Zeroes both keys and gives their slot back. Safe to call twice. */
  erase(): void {
    if (this.slot === null) return
    transportKeySlab.release(this.slot)
    this.slot = null
  }

  /** Test seam: the secret bytes (send ‖ receive) as they are now; all zeros once erased. */
  keyBytesForTest(): Uint8Array {
    return new Uint8Array(this.sendKey.buffer, this.sendKey.byteOffset, TRANSPORT_KEYS_BYTES)
  }
}

/** Noise's ChaChaPoly nonce: 4 zero bytes, then the counter as a little-endian u64. */
function nonceFor(nonce: Buffer, counter: number): void {
  nonce.writeUInt32LE(counter % TWO_TO_32, 4)
  nonce.writeUInt32LE(Math.floor(counter / TWO_TO_32), 8)
}
