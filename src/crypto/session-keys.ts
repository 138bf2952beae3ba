// One set of transport keys of a pair session (WireGuard calls it a keypair): a send key and a
// receive key from one Noise handshake, the send counter, the receive replay window, and the
// indices that name it on the wire. Keys live in slots of secret memory, zeroed by erase().
import { openAfterHeader, sealAfterHeader } from './counter-aead.js'
import { KEY_BYTES, TRANSPORT_KEYS_BYTES } from './noise-ik.js'
import { ReplayWindow } from './replay.js'
import { SecretSlab } from './secret-slab.js'
import { SessionKind, writeSessionDataHeader } from '../wire/handshake.js'

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
    writeSessionDataHeader(out, this.remoteIndex, counter, kind)
    return sealAfterHeader(out, payload, counter, this.sendKey)
  }

  /**
   * Opens a SESSION_DATA packet whose header readSessionDataHeader accepted (its counter given)
   * into `out`. Returns the payload length, or -1 when authentication fails. The replay window is
   * the caller's to check before and to move after.
   */
  open(packet: Buffer, counter: number, out: Buffer): number {
    if (this.slot === null) return -1
    return openAfterHeader(packet, counter, this.recvKey, out)
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
