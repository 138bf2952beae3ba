// Seals payloads into sealed packets and sends them, from a ring of preallocated buffers: nothing
// is allocated per packet here. dgram may queue a send and read its buffer later, so each slot
// remembers the socket it went out on and that socket's send number; the slot is reused only once
// the socket has completed that many sends (a socket's sends complete in order). When the oldest
// slot is still queued the packet is dropped and counted, never corrupted.
import type { FrameCipher } from '../crypto/aead.js'
import type { Transport } from '../net/transport.js'
import { MAX_PACKET_BYTES, SEALED_OVERHEAD, writeSealedHeader, type SealedType } from '../wire/index.js'

export const RING_SIZE = 512

export type SendResult = 'sent' | 'send-queue-full' | 'frame-too-large'

export class SealedSender {
  private readonly ring: Buffer[] = []
  private readonly slotTransport: (Transport | null)[] = new Array<Transport | null>(RING_SIZE).fill(null)
  private readonly slotSeq = new Float64Array(RING_SIZE)
  /** sends made through each socket (the main one is the common case: a field, not a map lookup) */
  private mainSent = 0
  private readonly otherSent = new Map<Transport, number>()
  private next = 0
  private counter = 0

  constructor(
    private readonly transport: Transport,
    private readonly cipher: FrameCipher,
    private readonly edgeId: number,
  ) {
    for (let i = 0; i < RING_SIZE; i++) this.ring.push(Buffer.allocUnsafe(MAX_PACKET_BYTES))
  }

  /**
   * `ttl` 0: the socket's default; otherwise that IP TTL for this datagram only. `via`: another
   * socket of ours (a birthday-punching one) instead of the main one.
   */
  send(type: SealedType, destId: number, payload: Uint8Array, address: string, port: number, ttl = 0, via: Transport | null = null): SendResult {
    if (payload.length + SEALED_OVERHEAD > MAX_PACKET_BYTES) return 'frame-too-large'
    const slot = this.next
    if (!this.slotFree(slot)) return 'send-queue-full'
    const transport = via ?? this.transport
    const buf = this.ring[slot]!
    this.next = (slot + 1) % RING_SIZE
    writeSealedHeader(buf, type, this.edgeId, destId, ++this.counter)
    const length = this.cipher.seal(buf, payload)
    this.slotTransport[slot] = transport
    this.slotSeq[slot] = this.countSend(transport)
    if (ttl === 0) transport.send(buf, 0, length, port, address)
    else transport.sendWithTtl(buf, 0, length, port, address, ttl)
    return 'sent'
  }

  /** A socket of ours was closed: its queue is gone, and so is the count we keep for it. */
  forget(transport: Transport): void {
    this.otherSent.delete(transport)
    for (let i = 0; i < RING_SIZE; i++) if (this.slotTransport[i] === transport) this.slotTransport[i] = null
  }

  private slotFree(slot: number): boolean {
    const last = this.slotTransport[slot]
    if (last === null || last === undefined) return true
    const sent = last === this.transport ? this.mainSent : (this.otherSent.get(last) ?? 0)
    return this.slotSeq[slot]! <= sent - last.pendingSends()
  }

  private countSend(transport: Transport): number {
    if (transport === this.transport) return ++this.mainSent
    const n = (this.otherSent.get(transport) ?? 0) + 1
    this.otherSent.set(transport, n)
    return n
  }
}
