// The peer table: every other edge this edge has heard of, by edge ID and by MAC. A peer is what
// it is made of: its identity (from its signed record: MAC, overlay address, name), its path
// (path.ts), the frames waiting for its record, its replay window and its traffic counters.
// A peer is "verified" once its signed record (from PEER_INFO or PUNCH_REQUEST) has been checked;
// until then its frames wait in a small queue, because only the record says which MAC is its own.
// Any member can send under edge IDs it makes up, so what an unverified peer may hold is bounded
// twice (per peer and for all together), and a full table makes room from unverified peers.
import { ReplayWindow } from '../crypto/replay.js'
import { macKeyAt, type OverlayAddress } from '../wire/index.js'
import type { EdgeCounters } from './counters.js'
import { PeerPath, type PathActions, type PathOwner } from './path.js'
import { PeerBinding } from './peer-binding.js'
import type { EdgeReason } from './reasons.js'

/**
 * What waits for a record is the first few frames of a conversation (an ARP request, a TCP SYN, a
 * ping or two) for one round trip to the supernode: 16 frames, and 16 KiB (ten full-size frames of
 * a 1,500-byte MTU and some small ones), per peer.
 */
export const PENDING_FRAMES_PER_PEER = 16
export const PENDING_BYTES_PER_PEER = 16 * 1024
/**
 * For all unverified peers together: 512 KiB, 32 peers' full queues at once, where a community is
 * a device and a few technicians. (Per peer alone, 4,096 made-up edge IDs × 16 frames × 2,004
 * bytes would be 131 MB.)
 */
export const PENDING_BYTES_TOTAL = 512 * 1024
/**
 * What a held frame costs beyond its own bytes, charged to both bounds so that many tiny frames
 * cannot hold more than the bounds say: its Buffer object and backing store (measured on Node 20:
 * ~350 bytes for a 60-byte frame, ~150 for a 2,004-byte one).
 */
export const PENDING_FRAME_OVERHEAD_BYTES = 384
/**
 * An unverified peer whose record has not come by then is removed, with whatever it held: a record
 * takes one round trip to the supernode, and a made-up edge ID never gets one.
 */
export const PENDING_TIMEOUT_MS = 3_000
/** Ask again for the record of a peer whose frames are waiting, this often. */
export const PENDING_QUERY_MS = 1_000
/** A bound on the table: a community member cannot make us hold unbounded state. */
export const MAX_PEERS = 4096
/** Forgotten peers whose replay window we keep (edge ID and highest counter: ~50 bytes each). */
const MAX_FORGOTTEN = 4096

/** What its signed record says a peer is. */
export interface PeerIdentity {
  readonly mac: Buffer
  readonly macKey: number
  readonly overlay: OverlayAddress | null
  readonly name: string
  /** what its frames may claim to be (the frame filter's view) */
  readonly binding: PeerBinding
}

/** Why a frame was not held: the peer's own bounds, or the edge's for all peers together. */
export type HoldRefusal = 'unverified-peer' | 'pending-full'

/**
 * Frames from a peer whose record has not arrived yet (copies: the receive buffer is reused). The
 * bytes it holds are charged to the edge's `pendingBytes`, which no peer may take past
 * PENDING_BYTES_TOTAL.
 */
export class PendingFrames {
  private frames: Buffer[] = []
  private bytes = 0
  private lastQueryAt: number

  /** `now`: when the peer was met, and its record first asked for */
  constructor(
    private readonly total: { pendingBytes: number },
    now: number,
  ) {
    this.lastQueryAt = now
  }

  /** Holds a copy of the frame; null when held, else why not (nothing held). */
  hold(frame: Uint8Array): HoldRefusal | null {
    const cost = frame.length + PENDING_FRAME_OVERHEAD_BYTES
    if (this.frames.length >= PENDING_FRAMES_PER_PEER || this.bytes + cost > PENDING_BYTES_PER_PEER) return 'unverified-peer'
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

  /** True (and remembered) when it is time to ask the supernode for the record again. */
  queryDue(now: number): boolean {
    if (this.frames.length === 0 || now - this.lastQueryAt < PENDING_QUERY_MS) return false
    this.lastQueryAt = now
    return true
  }
}

export class Peer implements PathOwner {
  readonly replay = new ReplayWindow()
  readonly path: PeerPath
  readonly pending: PendingFrames
  private known: PeerIdentity | null = null
  /** when it entered the table: an unverified peer goes PENDING_TIMEOUT_MS later */
  readonly createdAt: number
  /** met again after we forgot it: its old replay floor came back, and goes back if it is forgotten again */
  readonly hadFloor: boolean

  /** last authenticated packet from the peer, by any way */
  lastSeen: number
  rxPackets = 0
  rxBytes = 0
  txPackets = 0
  txBytes = 0

  constructor(
    readonly edgeId: number,
    now: number,
    actions: PathActions,
    pendingTotal: { pendingBytes: number },
    /** the highest counter it used before we forgot it, or undefined */
    floor: number | undefined,
  ) {
    this.lastSeen = now
    this.createdAt = now
    this.path = new PeerPath(this, actions)
    this.pending = new PendingFrames(pendingTotal, now)
    this.hadFloor = floor !== undefined
    if (floor !== undefined) this.replay.refuseUpTo(floor)
  }

  get verified(): boolean {
    return this.known !== null
  }

  /** Its signed record's identity, or null until the record has been verified. */
  get identity(): PeerIdentity | null {
    return this.known
  }

  /** The MAC key its frames must come from (-1: not verified, no frame may). */
  get macKey(): number {
    return this.known?.macKey ?? -1
  }

  /** Only PeerTable.verify calls this: the MAC index must change with it. */
  setIdentity(identity: PeerIdentity): void {
    this.known = identity
  }
}

export class PeerTable {
  private readonly byId = new Map<number, Peer>()
  private readonly byMac = new Map<number, Peer>()
  /** peers without a verified record, oldest first: the first to go when the table is full */
  private readonly unverified = new Set<Peer>()
  /**
   * The highest counter of verified peers removed from the table (idle, or gone by the supernode's
   * word), so that their old datagrams, replayed once we have forgotten them, are still refused when
   * we meet them again; the oldest go first beyond MAX_FORGOTTEN. Unverified peers leave nothing
   * here (none of their frames was ever delivered), so that made-up edge IDs cannot push out the
   * floors of real ones.
   */
  private readonly forgotten = new Map<number, number>()

  constructor(
    private readonly actions: PathActions,
    /** pendingBytes (every peer's held frames together) and peersEvicted */
    private readonly counters: EdgeCounters,
    /** frames dropped with a peer removed before its record came: unverified-peer */
    private readonly drops: Record<EdgeReason, number>,
  ) {}

  get size(): number {
    return this.byId.size
  }

  get(edgeId: number): Peer | undefined {
    return this.byId.get(edgeId)
  }

  /** The verified peer that owns this MAC key (unicast MACs only are ever bound). */
  byMacKey(macKey: number): Peer | undefined {
    return this.byMac.get(macKey)
  }

  values(): IterableIterator<Peer> {
    return this.byId.values()
  }

  /**
   * The peer for an edge ID, created (unverified) if new. A full table makes room first (evict());
   * undefined when it cannot.
   */
  getOrCreate(edgeId: number, now: number): Peer | undefined {
    let peer = this.byId.get(edgeId)
    if (peer === undefined) {
      if (this.byId.size >= MAX_PEERS && !this.evict()) return undefined
      const floor = this.forgotten.get(edgeId)
      this.forgotten.delete(edgeId)
      peer = new Peer(edgeId, now, this.actions, this.counters, floor)
      this.byId.set(edgeId, peer)
      this.unverified.add(peer)
    }
    return peer
  }

  /**
   * Records a peer's verified identity and binds its MAC to it; an older peer with that MAC (the
   * same device restarted under a new edge ID) is removed.
   */
  verify(peer: Peer, record: { mac: Buffer; overlay: OverlayAddress | null; name: string }): void {
    const key = macKeyAt(record.mac, 0)
    const holder = this.byMac.get(key)
    if (holder !== undefined && holder !== peer) this.remove(holder)
    const previous = peer.macKey
    if (previous !== -1 && previous !== key && this.byMac.get(previous) === peer) this.byMac.delete(previous)
    const binding = new PeerBinding({ mac: record.mac, ipv4: record.overlay, ipv6: null })
    peer.setIdentity({ mac: Buffer.from(record.mac), macKey: key, overlay: record.overlay, name: record.name, binding })
    this.byMac.set(key, peer)
    this.unverified.delete(peer)
  }

  /**
   * Forgets a peer: a verified one's replay floor is kept; frames still waiting for its record are
   * dropped and counted; what its path holds outside it (birthday sockets) goes.
   */
  remove(peer: Peer): void {
    if (this.byId.get(peer.edgeId) !== peer) return
    if (peer.replay.highest > 0 && (peer.verified || peer.hadFloor)) {
      this.forgotten.delete(peer.edgeId)
      this.forgotten.set(peer.edgeId, peer.replay.highest)
      if (this.forgotten.size > MAX_FORGOTTEN) this.forgotten.delete(this.forgotten.keys().next().value!)
    }
    this.drops['unverified-peer'] += peer.pending.take().length
    this.byId.delete(peer.edgeId)
    this.unverified.delete(peer)
    if (this.byMac.get(peer.macKey) === peer) this.byMac.delete(peer.macKey)
    peer.path.close()
  }

  /**
   * Makes room in a full table: the oldest unverified peer goes (a member can make up edge IDs, and
   * an honest newcomer's record, once it comes, creates its entry again); failing that, the verified
   * peer heard from least recently of those without a live direct path. A peer on a live direct
   * path is never evicted. False when every peer is one.
   */
  private evict(): boolean {
    let victim: Peer | undefined = this.unverified.values().next().value
    if (victim === undefined) {
      for (const peer of this.byId.values()) if (!peer.path.isDirect && (victim === undefined || peer.lastSeen < victim.lastSeen)) victim = peer
    }
    if (victim === undefined) return false
    this.remove(victim)
    this.counters.peersEvicted++
    return true
  }
}
