// Seals and sends session packets from a ring of preallocated buffers: nothing is allocated per
// packet here. A frame, probe or broadcast key is sealed by the peer's pair session straight into a
// ring slot, after a RELAY prefix when it goes through the supernode; a flooded frame is sealed
// once with our broadcast key, RELAY to every member. dgram may queue a send and read its buffer
// later, so each slot remembers the socket it went out on and that socket's send number; the slot
// is reused only once the socket has completed that many sends (a socket's sends complete in
// order). When the oldest slot is still queued the packet is dropped and counted, never corrupted.
import type { PairSession } from '../crypto/noise-session.js'
import type { Transport } from '../net/transport.js'
import { MAX_PACKET_BYTES, RELAY_PREFIX_BYTES, SESSION_OVERHEAD, writeRelayHeader, type SessionKind } from '../wire/index.js'
import type { BroadcastSender } from './broadcast-keys.js'

export const RING_SIZE = 512

/** `not-ready`: the session has no keys to send with yet (a handshake is under way; the caller holds the frame). */
export type SendResult = 'sent' | 'send-queue-full' | 'frame-too-large' | 'not-ready'

/** Where a relayed packet goes: the relaying supernode's UDP address and port, or its fallback stream (`via`). */
export interface RelayRoute {
  readonly address: string | null
  readonly port: number
  readonly via: Transport | null
}

export class SessionSender {
  private readonly ring: Buffer[] = []
  private readonly slotTransport: (Transport | null)[] = new Array<Transport | null>(RING_SIZE).fill(null)
  private readonly slotSeq = new Float64Array(RING_SIZE)
  /** sends made through each socket (the main one is the common case: a field, not a map lookup) */
  private mainSent = 0
  private readonly otherSent = new Map<Transport, number>()
  private next = 0

  constructor(
    private readonly transport: Transport,
    private readonly edgeId: number,
  ) {
    for (let i = 0; i < RING_SIZE; i++) this.ring.push(Buffer.allocUnsafe(MAX_PACKET_BYTES))
  }

  /**
   * Seals `payload` (of `kind`) with `session` and sends it straight to address:port. `ttl` 0: the
   * socket's default; otherwise that IP TTL for this datagram only. `via`: another socket of ours
   * (a birthday-punching one) instead of the main one.
   */
  direct(session: PairSession, kind: SessionKind, payload: Uint8Array, address: string, port: number, ttl = 0, via: Transport | null = null): SendResult {
    if (payload.length + SESSION_OVERHEAD > MAX_PACKET_BYTES) return 'frame-too-large'
    const slot = this.next
    if (!this.slotFree(slot)) return 'send-queue-full'
    const length = session.seal(this.ring[slot]!, payload, kind)
    if (length < 0) return 'not-ready'
    this.commit(slot, length, via ?? this.transport, address, port, ttl)
    return 'sent'
  }

  /** Seals `payload` (of `kind`) with `session` and sends it through the relay to edge `destId`. */
  relayed(session: PairSession, kind: SessionKind, payload: Uint8Array, destId: number, route: RelayRoute): SendResult {
    if (payload.length + SESSION_OVERHEAD + RELAY_PREFIX_BYTES > MAX_PACKET_BYTES) return 'frame-too-large'
    const slot = this.next
    if (!this.slotFree(slot)) return 'send-queue-full'
    const buf = this.ring[slot]!
    const length = session.seal(buf.subarray(RELAY_PREFIX_BYTES), payload, kind)
    if (length < 0) return 'not-ready'
    writeRelayHeader(buf, this.edgeId, destId)
    this.commit(slot, RELAY_PREFIX_BYTES + length, route.via ?? this.transport, route.address ?? '', route.port, 0)
    return 'sent'
  }

  /** Seals `frame` once with our broadcast key and sends it through the relay to every member. */
  broadcast(keys: BroadcastSender, frame: Uint8Array, route: RelayRoute): SendResult {
    if (frame.length + SESSION_OVERHEAD + RELAY_PREFIX_BYTES > MAX_PACKET_BYTES) return 'frame-too-large'
    const slot = this.next
    if (!this.slotFree(slot)) return 'send-queue-full'
    const buf = this.ring[slot]!
    writeRelayHeader(buf, this.edgeId, 0)
    const length = keys.seal(buf.subarray(RELAY_PREFIX_BYTES), frame)
    this.commit(slot, RELAY_PREFIX_BYTES + length, route.via ?? this.transport, route.address ?? '', route.port, 0)
    return 'sent'
  }

  /**
   * A packet the session layer made (a handshake message): straight to address:port, or (`route`
   * given) through the relay to `destId`. Copied into a slot: the caller's buffer is free at once.
   */
  packet(packet: Buffer, address: string, port: number, via: Transport | null, relay: { destId: number; route: RelayRoute } | null = null): SendResult {
    const prefix = relay === null ? 0 : RELAY_PREFIX_BYTES
    if (packet.length + prefix > MAX_PACKET_BYTES) return 'frame-too-large'
    const slot = this.next
    if (!this.slotFree(slot)) return 'send-queue-full'
    const buf = this.ring[slot]!
    if (relay !== null) {
      writeRelayHeader(buf, this.edgeId, relay.destId)
      packet.copy(buf, prefix)
      this.commit(slot, prefix + packet.length, relay.route.via ?? this.transport, relay.route.address ?? '', relay.route.port, 0)
    } else {
      packet.copy(buf, 0)
      this.commit(slot, packet.length, via ?? this.transport, address, port, 0)
    }
    return 'sent'
  }

  /** A socket of ours was closed: its queue is gone, and so is the count we keep for it. */
  forget(transport: Transport): void {
    this.otherSent.delete(transport)
    for (let i = 0; i < RING_SIZE; i++) if (this.slotTransport[i] === transport) this.slotTransport[i] = null
  }

  private commit(slot: number, length: number, transport: Transport, address: string, port: number, ttl: number): void {
    this.next = (slot + 1) % RING_SIZE
    this.slotTransport[slot] = transport
    this.slotSeq[slot] = this.countSend(transport)
    const buf = this.ring[slot]!
    if (ttl === 0) transport.send(buf, 0, length, port, address)
    else transport.sendWithTtl(buf, 0, length, port, address, ttl)
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
