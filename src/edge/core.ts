// What the two directions of the data path (inside.ts, outside.ts) need from the edge: its
// identity, tables and counters, and the few actions they share. Edge (edge.ts) implements it.
import type { TapDevice } from '../tap/device.js'
import type { PeerInfo, PeerTarget } from '../wire/index.js'
import type { AllowFilter } from './allow-filter.js'
import type { BirthdayPuncher } from './birthday.js'
import type { FrameFilter } from './frame-filter.js'
import type { Peer, PeerTable } from './peers.js'
import type { Puncher } from './punch.js'
import type { EdgeReason } from './reasons.js'
import type { SealedSender } from './sealed-sender.js'
import type { SupernodeLink } from './supernode-link.js'

export interface EdgeCounters {
  tapFramesIn: number
  tapFramesOut: number
  packetsIn: number
  bytesIn: number
  relayedOut: number
  directOut: number
  peerQueries: number
}

export interface EdgeCore {
  readonly edgeId: number
  readonly relayOnly: boolean
  readonly tap: TapDevice
  readonly peers: PeerTable
  readonly filter: FrameFilter
  /** the --allow rules, or null when everything addressed to the host may pass */
  readonly allow: AllowFilter | null
  readonly sender: SealedSender
  readonly puncher: Puncher
  readonly birthday: BirthdayPuncher
  readonly drops: Record<EdgeReason, number>
  readonly counters: EdgeCounters
  now(): number
  /** sends a frame through the registered supernode, to one edge or (0) to every member */
  relay(destId: number, frame: Buffer): void
  sendDirect(peer: Peer, frame: Buffer): void
  queryPeer(target: PeerTarget): void
  /** the supernode a datagram came from, if it came from one */
  linkFrom(address: string, port: number): SupernodeLink | undefined
  onPeerInfo(packet: PeerInfo): void
  /** a path change: logs and tells listeners */
  pathChanged(peer: Peer): void
}
