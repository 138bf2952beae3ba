// What the two directions of the data path (inside.ts, outside.ts) and the peer directory share:
// the edge's identity, its peer table and its counters. Everything else each half is given on its
// own (the sender, the filters, the supernodes), so that neither reaches into the other.
import type { PeerTable } from './peers.js'
import type { EdgeCounters } from './counters.js'
import type { EdgeReason } from './reasons.js'

export interface EdgeCore {
  readonly edgeId: number
  readonly relayOnly: boolean
  readonly peers: PeerTable
  readonly drops: Record<EdgeReason, number>
  readonly counters: EdgeCounters
  now(): number
}
