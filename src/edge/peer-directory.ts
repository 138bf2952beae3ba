// What the supernodes tell an edge about its peers, and the peers' own timers. A PEER_INFO or
// PUNCH_REQUEST carries a peer's signed record (checked here against the community's key) and where
// the supernode sees it: the peer becomes verified, its MAC is bound, and its path starts punching.
// "Gone" from a supernode forgets a peer; an idle one is forgotten too, and one whose record never
// came sooner. Records are asked for here, within a budget. The frames that waited for a record are
// handed back to the caller (the inbound path delivers them), so that nothing here writes to the
// TAP device.
import { verifyRecord } from '../crypto/record.js'
import type { Logger } from '../log/logger.js'
import { formatHostPort } from '../net/address.js'
import { formatEdgeId, formatMac, type PeerInfo, type PeerTarget } from '../wire/index.js'
import type { EdgeCore } from './core.js'
import { PENDING_TIMEOUT_MS, type Peer } from './peers.js'

/** A peer nobody has heard from for this long is forgotten (it is asked for again when needed). */
export const PEER_IDLE_MS = 10 * 60_000
/**
 * PEER_QUERYs for the records of senders we do not know, at most this many a second. A member can
 * send under as many made-up edge IDs as it likes, and the supernode allows each source 50 control
 * packets a second (its default controlRate): past that it would refuse our keepalives and our
 * queries for real peers too. Real newcomers are few; one whose query waits still gets its record
 * when it asks for us (the supernode's PUNCH_REQUEST).
 */
export const RECORD_QUERIES_PER_SECOND = 20
const QUERY_WINDOW_MS = 1_000

export class PeerDirectory {
  private queryWindowStart = 0
  private queriesInWindow = 0

  constructor(
    private readonly core: EdgeCore,
    /** the community's record-signing public key */
    private readonly signPublicKey: Buffer,
    private readonly query: (target: PeerTarget) => void,
    private readonly log: Logger,
  ) {}

  /**
   * A PEER_INFO or PUNCH_REQUEST from one of our supernodes. Returns the verified peer, whose
   * waiting frames the caller now delivers; null when the record was refused or is our own.
   */
  onPeerInfo(packet: PeerInfo): Peer | null {
    const core = this.core
    const verdict = verifyRecord(packet.record, this.signPublicKey)
    if (!verdict.ok) {
      core.drops['bad-record']++
      return null
    }
    if (verdict.edgeId === core.edgeId) return null
    const now = core.now()
    const peer = core.peers.getOrCreate(verdict.edgeId, now)
    if (peer === undefined) {
      core.drops['peer-table-full']++
      return null
    }
    const isNew = !peer.verified
    const overlay = packet.overlay ?? packet.record.overlay
    core.peers.verify(peer, { mac: packet.record.mac, overlay, name: packet.record.name })
    const name = packet.record.name
    if (isNew) this.log.info(`peer ${formatEdgeId(peer.edgeId)} ${name ? `"${name}" ` : ''}mac ${formatMac(packet.record.mac)} ip ${overlay?.address ?? '-'} at ${formatHostPort({ host: packet.reflexive.address, port: packet.reflexive.port })}`)
    // a peer on a WebSocket has no UDP endpoint the supernode knows: only its own LAN candidates are probed
    peer.path.onPeerInfo(packet.relayOnly ? null : packet.reflexive, packet.record.candidates, now)
    return peer
  }

  /**
   * A supernode says a peer is gone. Unless a direct path still works, forget it: its MAC becomes
   * unknown again, so the next frame is flooded and asked for, and finds the device if it came
   * back under a new edge ID.
   */
  onPeerGone(edgeId: number): void {
    const peer = this.core.peers.get(edgeId)
    if (peer === undefined || peer.path.isDirect) return
    this.log.info(`peer ${formatEdgeId(edgeId)} is gone (the supernode no longer knows it)`)
    this.core.peers.remove(peer)
  }

  /** Our NAT moved us: every peer not on the relay is asked for again, so that both sides punch toward where we are now. */
  onWeMoved(): void {
    for (const peer of this.core.peers.values()) if (peer.verified && peer.path.state !== 'relay') this.query({ kind: 'edge', edgeId: peer.edgeId })
  }

  /** Asks the supernode for the record of a sender we do not know, unless this second's budget is spent. */
  askForRecord(edgeId: number, now: number): void {
    if (now - this.queryWindowStart >= QUERY_WINDOW_MS) {
      this.queryWindowStart = now
      this.queriesInWindow = 0
    }
    if (this.queriesInWindow >= RECORD_QUERIES_PER_SECOND) return
    this.queriesInWindow++
    this.query({ kind: 'edge', edgeId })
  }

  /** Each scheduler tick: every peer's path timers, its waiting frames, and whether it went idle. */
  runTimers(now: number): void {
    const core = this.core
    for (const peer of core.peers.values()) {
      peer.path.runTimers(now)
      if (!peer.verified) this.recordTimers(peer, now)
      else if (now - peer.lastSeen > PEER_IDLE_MS && !peer.path.isDirect) core.peers.remove(peer)
    }
  }

  /** A peer whose record never came goes (its frames are dropped and counted); until then the record is asked for again. */
  private recordTimers(peer: Peer, now: number): void {
    if (now - peer.createdAt > PENDING_TIMEOUT_MS) this.core.peers.remove(peer)
    else if (peer.pending.queryDue(now)) this.askForRecord(peer.edgeId, now)
  }
}
