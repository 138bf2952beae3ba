// Frames going out: TAP → choose the path → seal → send. Reads top to bottom as a frame travels.
// Unicast to a peer on a direct path goes straight to it; everything else (broadcast, multicast,
// peers still on the relay, unknown MACs) goes through the supernode, and an unknown MAC also
// starts a peer query so that the next frames can go direct. Frames for the relay that come before
// the first registration wait here, a few and briefly.
import { ETHERNET_HEADER_BYTES, PacketType, isGroupMacKey, macBytesOf, macKeyAt } from '../wire/index.js'
import type { AllowFilter } from './allow-filter.js'
import type { EdgeCore } from './core.js'
import type { Peer } from './peers.js'
import type { SealedSender } from './sealed-sender.js'
import type { Supernodes } from './supernodes.js'

/** At most one query per unknown MAC per this long: a flood to a ghost MAC costs one query a second. */
const UNKNOWN_MAC_QUERY_MS = 1_000
const MAX_TRACKED_UNKNOWN_MACS = 1024
/**
 * Frames from the host before any supernode has registered us (the kernel's first ARP request,
 * say) wait this long, this many, instead of being dropped: losing that ARP costs the user a
 * second (the kernel's retransmit time) on the first ping.
 */
const UNREGISTERED_HOLD_MS = 5_000
const UNREGISTERED_HOLD_FRAMES = 64

export class Outbound {
  private readonly queriedAt = new Map<number, number>()
  /** frames for the relay that came before the first registration (copies: TAP buffers are reused) */
  private held: { destId: number; frame: Buffer; at: number }[] = []

  constructor(
    private readonly core: EdgeCore,
    private readonly sender: SealedSender,
    private readonly supernodes: Supernodes,
    /** the --allow rules (they track the host's own connections), or null */
    private readonly allow: AllowFilter | null,
  ) {}

  readonly onFrame = (frame: Buffer): void => {
    const core = this.core
    if (frame.length < ETHERNET_HEADER_BYTES) {
      core.drops.runt++
      return
    }
    core.counters.tapFramesIn++
    this.allow?.outbound(frame, core.now())
    const dst = macKeyAt(frame, 0)
    if (isGroupMacKey(dst)) {
      this.relay(0, frame)
      return
    }
    const peer = core.peers.byMacKey(dst)
    if (peer === undefined) {
      // like a switch with an unknown destination: flood it (receivers keep only their own MAC) and ask
      this.relay(0, frame)
      this.queryUnknown(dst)
      return
    }
    peer.txPackets++
    peer.txBytes += frame.length
    const direct = peer.path.isDirect ? peer.path.endpoint : null
    if (direct !== null) this.sendDirect(peer, direct.address, direct.port, frame)
    else this.relay(peer.edgeId, frame)
  }

  /** Sends a frame through the relaying supernode, to one edge or (0) to every member; held while none is registered. */
  relay(destId: number, frame: Buffer): void {
    const core = this.core
    const link = this.supernodes.relayLink(core.now())
    if (link === undefined) {
      if (this.held.length < UNREGISTERED_HOLD_FRAMES) this.held.push({ destId, frame: Buffer.from(frame), at: core.now() })
      else core.drops['no-supernode']++
      return
    }
    // over the link's carrier: the UDP socket (via null), or its fallback stream, which ignores the address
    const result = this.sender.send(PacketType.Relay, destId, frame, link.address ?? '', link.port, 0, link.via)
    if (result === 'sent') core.counters.relayedOut++
    else core.drops[result]++
  }

  /** Sends what waited for a registration; what waited too long is dropped and counted. */
  releaseHeld(): void {
    const held = this.held
    this.held = []
    const now = this.core.now()
    for (const h of held) {
      if (now - h.at > UNREGISTERED_HOLD_MS) this.core.drops['no-supernode']++
      else this.relay(h.destId, h.frame)
    }
  }

  private sendDirect(peer: Peer, address: string, port: number, frame: Buffer): void {
    const result = this.sender.send(PacketType.Data, peer.edgeId, frame, address, port, 0, peer.path.via)
    if (result === 'sent') this.core.counters.directOut++
    else this.core.drops[result]++
  }

  private queryUnknown(macKey: number): void {
    const now = this.core.now()
    const last = this.queriedAt.get(macKey)
    if (last !== undefined && now - last < UNKNOWN_MAC_QUERY_MS) return
    if (this.queriedAt.size >= MAX_TRACKED_UNKNOWN_MACS) this.queriedAt.clear()
    this.queriedAt.set(macKey, now)
    this.supernodes.query({ kind: 'mac', mac: macBytesOf(macKey) }, now)
  }
}
