// The peer table: every other edge this edge has heard of, by edge ID and by MAC. A peer is what
// it is made of: its identity (from its signed record: MAC, overlay address, name), its path
// (path.ts), the frames waiting for its record, its replay window and its traffic counters.
// A peer is "verified" once its signed record (from PEER_INFO or PUNCH_REQUEST) has been checked;
// until then its frames wait in a small queue, because only the record says which MAC is its own.
import { ReplayWindow } from '../crypto/replay.js'
import { macKeyAt, type OverlayAddress } from '../wire/index.js'
import { PeerPath, type PathActions, type PathOwner } from './path.js'

/** Frames held per unverified peer, and for how long, while its record is asked for. */
export const PENDING_FRAMES_PER_PEER = 16
export const PENDING_TIMEOUT_MS = 3_000
/** Ask again for the record of a peer whose frames are waiting, this often. */
export const PENDING_QUERY_MS = 1_000
/** A bound on the table: a community member cannot make us hold unbounded state. */
export const MAX_PEERS = 4096
/** Forgotten peers whose replay window we keep (edge ID and highest counter: ~50 bytes each). */
const MAX_FORGOTTEN = 4096

/** What the peer's signed record says it is. */
export interface PeerIdentity {
  readonly mac: Buffer
  readonly macKey: number
  readonly overlay: OverlayAddress | null
  readonly name: string
}

/** Frames from a peer whose record has not arrived yet (copies: the receive buffer is reused). */
export class PendingFrames {
  private frames: Buffer[] = []
  private since = 0
  private lastQueryAt = 0

  get waiting(): number {
    return this.frames.length
  }

  /** Holds a copy of the frame; false (nothing held) when the queue is full. */
  hold(frame: Uint8Array, now: number): boolean {
    if (this.frames.length >= PENDING_FRAMES_PER_PEER) return false
    if (this.frames.length === 0) this.since = now
    this.frames.push(Buffer.from(frame))
    return true
  }

  /** Empties the queue and hands back what waited, oldest first. */
  take(): Buffer[] {
    const frames = this.frames
    this.frames = []
    return frames
  }

  /** Whether what waits has waited too long for the record. */
  expired(now: number): boolean {
    return this.frames.length > 0 && now - this.since > PENDING_TIMEOUT_MS
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
  readonly pending = new PendingFrames()
  private known: PeerIdentity | null = null

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
  ) {
    this.lastSeen = now
    this.path = new PeerPath(this, actions)
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
  /**
   * The highest counter of peers removed from the table (idle, or gone by the supernode's word),
   * so that their old datagrams, replayed once we have forgotten them, are still refused when we
   * meet them again; the oldest go first beyond MAX_FORGOTTEN.
   */
  private readonly forgotten = new Map<number, number>()

  constructor(private readonly actions: PathActions) {}

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

  /** The peer for an edge ID, created (unverified) if new; undefined when the table is full. */
  getOrCreate(edgeId: number, now: number): Peer | undefined {
    let peer = this.byId.get(edgeId)
    if (peer === undefined) {
      if (this.byId.size >= MAX_PEERS) return undefined
      peer = new Peer(edgeId, now, this.actions)
      const highest = this.forgotten.get(edgeId)
      if (highest !== undefined) {
        peer.replay.refuseUpTo(highest)
        this.forgotten.delete(edgeId)
      }
      this.byId.set(edgeId, peer)
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
    peer.setIdentity({ mac: Buffer.from(record.mac), macKey: key, overlay: record.overlay, name: record.name })
    this.byMac.set(key, peer)
  }

  /** Forgets a peer (its replay floor is kept); what its path holds outside it (birthday sockets) goes. */
  remove(peer: Peer): void {
    if (this.byId.get(peer.edgeId) !== peer) return
    if (peer.replay.highest > 0) {
      this.forgotten.delete(peer.edgeId)
      this.forgotten.set(peer.edgeId, peer.replay.highest)
      if (this.forgotten.size > MAX_FORGOTTEN) this.forgotten.delete(this.forgotten.keys().next().value!)
    }
    this.byId.delete(peer.edgeId)
    if (this.byMac.get(peer.macKey) === peer) this.byMac.delete(peer.macKey)
    peer.path.close()
  }
}
