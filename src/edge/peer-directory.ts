// What the supernodes tell an edge about its peers, and the peers' own timers. A PEER_INFO or
// PUNCH_REQUEST carries a peer's signed record (checked here against the community's key) and where
// the supernode sees it: the peer becomes verified, its MAC is bound, and its path starts punching.
// "Gone" from a supernode forgets a peer; an idle one is forgotten too. The frames that waited for
// a record are handed back to the caller (the inbound path delivers them), so that nothing here
// writes to the TAP device.
import { verifyRecord } from '../crypto/record.js'
import type { Logger } from '../log/logger.js'
import { formatHostPort } from '../net/address.js'
import { formatEdgeId, formatMac, type PeerInfo, type PeerTarget } from '../wire/index.js'
import type { EdgeCore } from './core.js'
import type { Peer } from './peers.js'

/** A peer nobody has heard from for this long is forgotten (it is asked for again when needed). */
export const PEER_IDLE_MS = 10 * 60_000

export class PeerDirectory {
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
    peer.path.onPeerInfo(packet.reflexive, packet.record.candidates, now)
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

  /** Each scheduler tick: every peer's path timers, its waiting frames, and whether it went idle. */
  runTimers(now: number): void {
    const core = this.core
    for (const peer of core.peers.values()) {
      peer.path.runTimers(now)
      if (!peer.verified) this.pendingTimers(peer, now)
      if (now - peer.lastSeen > PEER_IDLE_MS && !peer.path.isDirect) core.peers.remove(peer)
    }
  }

  /** Frames waiting for a record that never came are dropped; until then the record is asked for again. */
  private pendingTimers(peer: Peer, now: number): void {
    if (peer.pending.expired(now)) this.core.drops['unverified-peer'] += peer.pending.take().length
    else if (peer.pending.queryDue(now)) this.query({ kind: 'edge', edgeId: peer.edgeId })
  }
}
