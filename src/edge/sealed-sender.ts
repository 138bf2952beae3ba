// Seals payloads into sealed packets and sends them, from a ring of preallocated buffers: nothing
// is allocated per packet here. dgram may queue a send and read its buffer later, so a buffer is
// reused only after RING_SIZE newer sends, and only while fewer than that are still queued (sends
// complete in order): past that the packet is dropped and counted, never corrupted.
import type { FrameCipher } from '../crypto/aead.js'
import type { Transport } from '../net/transport.js'
import { MAX_PACKET_BYTES, SEALED_OVERHEAD, writeSealedHeader, type SealedType } from '../wire/index.js'

export const RING_SIZE = 512

export type SendResult = 'sent' | 'send-queue-full' | 'frame-too-large'

export class SealedSender {
  private readonly ring: Buffer[] = []
  private next = 0
  private counter = 0

  constructor(
    private readonly transport: Transport,
    private readonly cipher: FrameCipher,
    private readonly edgeId: number,
  ) {
    for (let i = 0; i < RING_SIZE; i++) this.ring.push(Buffer.allocUnsafe(MAX_PACKET_BYTES))
  }

  /** `ttl` 0: the socket's default; otherwise that IP TTL for this datagram only. */
  send(type: SealedType, destId: number, payload: Uint8Array, address: string, port: number, ttl = 0): SendResult {
    if (payload.length + SEALED_OVERHEAD > MAX_PACKET_BYTES) return 'frame-too-large'
    if (this.transport.pendingSends() >= RING_SIZE - 1) return 'send-queue-full'
    const buf = this.ring[this.next]!
    this.next = (this.next + 1) % RING_SIZE
    writeSealedHeader(buf, type, this.edgeId, destId, ++this.counter)
    const length = this.cipher.seal(buf, payload)
    if (ttl === 0) this.transport.send(buf, 0, length, port, address)
    else this.transport.sendWithTtl(buf, 0, length, port, address, ttl)
    return 'sent'
  }
}
