// Broadcasts from members whose broadcast key we do not have yet. A member's first flood (the
// host's first ARP request, a frame for a MAC it does not know yet) reaches us before any session
// with it exists, so before its key can: we hold the sealed copy, ask the supernode for the sender
// (its PEER_INFO starts our handshake, and the PUNCH_REQUEST the sender gets starts its), and open
// what we held once its key arrives inside the new session. Any member can send under edge IDs it
// makes up, so what is held is bounded per sender and in all, and briefly.

/** Per sender: the first few frames of a conversation (as many as a peer's pending queue holds). */
export const HELD_BROADCASTS_PER_SENDER = 16
/** For all senders together: each a sealed copy of at most 2,048 bytes, 512 KiB at most (the pending queues' bound). */
export const HELD_BROADCASTS_TOTAL = 256
/** A handshake takes a round trip through the supernode; a sender whose key has not come by then never will. */
export const HELD_BROADCAST_MS = 3_000

interface Held {
  packets: Buffer[]
  since: number
}

export class HeldBroadcasts {
  private readonly bySender = new Map<number, Held>()
  private total = 0

  /** Holds a copy of `packet` (a BROADCAST) from `senderId`; false when the bounds refuse it. */
  hold(senderId: number, packet: Buffer, now: number): boolean {
    if (this.total >= HELD_BROADCASTS_TOTAL) return false
    let held = this.bySender.get(senderId)
    if (held === undefined) {
      held = { packets: [], since: now }
      this.bySender.set(senderId, held)
    }
    if (held.packets.length >= HELD_BROADCASTS_PER_SENDER) return false
    held.packets.push(Buffer.from(packet))
    this.total++
    return true
  }

  /** What `senderId` sent before we had its key, oldest first (and forgotten here). */
  take(senderId: number): Buffer[] {
    const held = this.bySender.get(senderId)
    if (held === undefined) return []
    this.bySender.delete(senderId)
    this.total -= held.packets.length
    return held.packets
  }

  /** Drops what waited longer than HELD_BROADCAST_MS; returns how many packets went. */
  expire(now: number): number {
    let dropped = 0
    for (const [senderId, held] of this.bySender) {
      if (now - held.since < HELD_BROADCAST_MS) continue
      this.bySender.delete(senderId)
      this.total -= held.packets.length
      dropped += held.packets.length
    }
    return dropped
  }

  get size(): number {
    return this.total
  }

  /** How many of `senderId`'s packets are held (what /status and the flood tests look at). */
  heldFrom(senderId: number): number {
    return this.bySender.get(senderId)?.packets.length ?? 0
  }
}
