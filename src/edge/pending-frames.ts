// Frames for a peer whose pair session is not ready yet (its handshake is under way): the first
// few frames of a conversation (an ARP request, a TCP SYN, a ping or two) wait for one handshake
// round trip instead of being dropped. Bounded twice, per peer and for all peers together, because
// a member can make us start handshakes with as many members as the community has.

/** 16 frames and 16 KiB (ten full-size frames of a 1,500-byte MTU and some small ones) per peer. */
export const PENDING_FRAMES_PER_PEER = 16
export const PENDING_BYTES_PER_PEER = 16 * 1024
/** For all peers together: 512 KiB, 32 peers' full queues at once, where a community is a device and a few technicians. */
export const PENDING_BYTES_TOTAL = 512 * 1024
/**
 * What a held frame costs beyond its own bytes, charged to both bounds so that many tiny frames
 * cannot hold more than the bounds say: its Buffer object and backing store (measured on Node 20:
 * ~350 bytes for a 60-byte frame, ~150 for a 2,004-byte one).
 */
export const PENDING_FRAME_OVERHEAD_BYTES = 384

/** Why a frame was not held: the peer's own bounds, or the edge's for all peers together. */
export type HoldRefusal = 'pending-peer-full' | 'pending-full'

/** The held frames (copies: TAP buffers are reused), charged to the edge's `pendingBytes`. */
export class PendingFrames {
  private frames: Buffer[] = []
  private bytes = 0

  constructor(private readonly total: { pendingBytes: number }) {}

  get length(): number {
    return this.frames.length
  }

  /** Holds a copy of the frame; null when held, else why not (nothing held). */
  hold(frame: Uint8Array): HoldRefusal | null {
    const cost = frame.length + PENDING_FRAME_OVERHEAD_BYTES
    if (this.frames.length >= PENDING_FRAMES_PER_PEER || this.bytes + cost > PENDING_BYTES_PER_PEER) return 'pending-peer-full'
    if (this.total.pendingBytes + cost > PENDING_BYTES_TOTAL) return 'pending-full'
    // a copy of its own, not a slice of Buffer's shared pool, which would keep a whole 8 KiB slab alive
    const copy = Buffer.allocUnsafeSlow(frame.length)
    copy.set(frame)
    this.frames.push(copy)
    this.bytes += cost
    this.total.pendingBytes += cost
    return null
  }

  /** Empties the queue and hands back what waited, oldest first. */
  take(): Buffer[] {
    const frames = this.frames
    this.frames = []
    this.total.pendingBytes -= this.bytes
    this.bytes = 0
    return frames
  }
}
