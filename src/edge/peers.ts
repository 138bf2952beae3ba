// The peer table: every other edge this edge has heard of, by edge ID and by MAC. A peer is
// "verified" once its signed record (from PEER_INFO or PUNCH_REQUEST) has been checked; until then
// its frames wait in a small queue, because only the record says which MAC belongs to it.
import { ReplayWindow } from '../crypto/replay.js'
import type { Transport } from '../net/transport.js'
import { macKeyAt, type Endpoint, type OverlayAddress } from '../wire/index.js'
import { nextPath, type PathEvent, type PathState } from './path.js'

/** Frames held per unverified peer, and for how long, while its record is asked for. */
export const PENDING_FRAMES_PER_PEER = 16
export const PENDING_TIMEOUT_MS = 3_000
/** A bound on the table: a community member cannot make us hold unbounded state. */
export const MAX_PEERS = 4096
/** Forgotten peers whose replay window we keep (edge ID and highest counter: ~50 bytes each). */
const MAX_FORGOTTEN = 4096

export class Peer {
  verified = false
  mac: Buffer | null = null
  macKey = -1
  overlay: OverlayAddress | null = null
  name = ''
  path: PathState = 'relay'
  /** where frames go in `direct` */
  direct: Endpoint | null = null
  /** the socket the direct path uses: null for the main one, else a birthday-punching socket */
  directVia: Transport | null = null
  /** the peer's public endpoint as its supernode sees it */
  reflexive: Endpoint | null = null
  /** the peer's own UDP port (its LAN candidates carry it): compared with `reflexive`, says whether its NAT rewrites ports */
  localPort: number | null = null
  /** addresses to probe: reflexive (from the supernode), the peer's LAN addresses, and peer-reflexive */
  candidates: Endpoint[] = []
  readonly replay = new ReplayWindow()
  pending: Buffer[] = []
  pendingSince = 0

  rttMs: number | null = null
  lastSeen = 0
  /** last authenticated packet that came straight from the peer (not via the supernode) */
  lastDirectRx = 0
  punchRound = 0
  nextProbeAt = 0
  /** when to ask the supernode again after punching gave up or the direct path died */
  retryAt = 0
  lastQueryAt = 0

  rxPackets = 0
  rxBytes = 0
  txPackets = 0
  txBytes = 0

  constructor(
    readonly edgeId: number,
    now: number,
  ) {
    this.lastSeen = now
  }

  /** Applies an event to the path; returns true when the state changed. */
  move(event: PathEvent): boolean {
    const next = nextPath(this.path, event)
    if (next === this.path) return false
    this.path = next
    return true
  }

  addCandidate(endpoint: Endpoint): boolean {
    if (this.candidates.some((c) => c.address === endpoint.address && c.port === endpoint.port)) return false
    this.candidates.push(endpoint)
    return true
  }
}

export class PeerTable {
  readonly byId = new Map<number, Peer>()
  readonly byMac = new Map<number, Peer>()
  /**
   * The highest counter of peers removed from the table (idle, or gone by the supernode's word),
   * so that their old datagrams, replayed once we have forgotten them, are still refused when we
   * meet them again; the oldest go first beyond MAX_FORGOTTEN.
   */
  private readonly forgotten = new Map<number, number>()

  get(edgeId: number): Peer | undefined {
    return this.byId.get(edgeId)
  }

  /** The peer for an edge ID, created (unverified) if new; undefined when the table is full. */
  getOrCreate(edgeId: number, now: number): Peer | undefined {
    let peer = this.byId.get(edgeId)
    if (peer === undefined) {
      if (this.byId.size >= MAX_PEERS) return undefined
      peer = new Peer(edgeId, now)
      const highest = this.forgotten.get(edgeId)
      if (highest !== undefined) {
        peer.replay.refuseUpTo(highest)
        this.forgotten.delete(edgeId)
      }
      this.byId.set(edgeId, peer)
    }
    return peer
  }

  /** Binds a MAC to a verified peer; an older peer with that MAC (the same device restarted) is removed. */
  bindMac(peer: Peer, mac: Buffer): void {
    const key = macKeyAt(mac, 0)
    const holder = this.byMac.get(key)
    if (holder !== undefined && holder !== peer) this.remove(holder)
    if (peer.macKey !== -1 && peer.macKey !== key && this.byMac.get(peer.macKey) === peer) this.byMac.delete(peer.macKey)
    peer.mac = Buffer.from(mac)
    peer.macKey = key
    this.byMac.set(key, peer)
  }

  remove(peer: Peer): void {
    if (this.byId.get(peer.edgeId) === peer && peer.replay.highest > 0) {
      this.forgotten.delete(peer.edgeId)
      this.forgotten.set(peer.edgeId, peer.replay.highest)
      if (this.forgotten.size > MAX_FORGOTTEN) this.forgotten.delete(this.forgotten.keys().next().value!)
    }
    this.byId.delete(peer.edgeId)
    if (this.byMac.get(peer.macKey) === peer) this.byMac.delete(peer.macKey)
  }
}
