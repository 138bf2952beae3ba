// Frames going out: TAP → choose the path → seal → send. Reads top to bottom as a frame travels.
// Unicast to a peer on a direct path goes straight to it; everything else (broadcast, multicast,
// peers still on the relay, unknown MACs) goes through the supernode, and an unknown MAC also
// starts a peer query so that the next frames can go direct.
import { ETHERNET_HEADER_BYTES, isGroupMacKey, macBytesOf, macKeyAt } from '../wire/index.js'
import type { EdgeCore } from './core.js'

/** At most one query per unknown MAC per this long: a flood to a ghost MAC costs one query a second. */
const UNKNOWN_MAC_QUERY_MS = 1_000
const MAX_TRACKED_UNKNOWN_MACS = 1024

export class Outbound {
  private readonly queriedAt = new Map<number, number>()

  constructor(private readonly core: EdgeCore) {}

  readonly onFrame = (frame: Buffer): void => {
    const core = this.core
    if (frame.length < ETHERNET_HEADER_BYTES) {
      core.drops.runt++
      return
    }
    core.counters.tapFramesIn++
    core.allow?.outbound(frame, core.now())
    const dst = macKeyAt(frame, 0)
    if (isGroupMacKey(dst)) {
      core.relay(0, frame)
      return
    }
    const peer = core.peers.byMac.get(dst)
    if (peer === undefined) {
      // like a switch with an unknown destination: flood it (receivers keep only their own MAC) and ask
      core.relay(0, frame)
      this.queryUnknown(dst)
      return
    }
    peer.txPackets++
    peer.txBytes += frame.length
    if (peer.path === 'direct' && peer.direct !== null) core.sendDirect(peer, frame)
    else core.relay(peer.edgeId, frame)
  }

  private queryUnknown(macKey: number): void {
    const now = this.core.now()
    const last = this.queriedAt.get(macKey)
    if (last !== undefined && now - last < UNKNOWN_MAC_QUERY_MS) return
    if (this.queriedAt.size >= MAX_TRACKED_UNKNOWN_MACS) this.queriedAt.clear()
    this.queriedAt.set(macKey, now)
    this.core.queryPeer({ kind: 'mac', mac: macBytesOf(macKey) })
  }
}
