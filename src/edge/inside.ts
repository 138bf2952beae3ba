// Frames going out: TAP → choose the peer and its path → its pair session seals → send. Reads top
// to bottom as a frame travels. Unicast to a peer on a direct path goes straight to it, to a peer on
// the relay inside a RELAY to its edge ID; a frame for a peer whose session is not ready waits in
// that peer's pending queue (bounded) until the handshake completes. Broadcast, multicast and
// unknown MACs are flooded: sealed once with our broadcast key, RELAY to every member, and an
// unknown MAC also starts a peer query so that the next frames can go to one peer. Frames for the
// relay that come before the first registration wait here, a few and briefly.
import type { PairSession } from '../crypto/noise-session.js'
import type { Transport } from '../net/transport.js'
import { ETHERNET_HEADER_BYTES, SessionKind, isGroupMacKey, macBytesOf, macKeyAt, type PeerTarget } from '../wire/index.js'
import type { AllowFilter } from './allow-filter.js'
import type { BroadcastSender } from './broadcast-keys.js'
import type { EdgeCore } from './core.js'
import type { Peer } from './peers.js'
import type { RelayRoute, SendResult, SessionSender } from './session-sender.js'

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

/** What the outbound half asks of the supernodes: where the relay is, and peer queries. */
export interface RelaySide {
  relayLink(now: number): RelayRoute | undefined
  query(target: PeerTarget, now: number): void
}

export class Outbound {
  private readonly queriedAt = new Map<number, number>()
  /** frames for the relay that came before the first registration (copies: TAP buffers are reused); peer 0: flooded */
  private held: { peerId: number; frame: Buffer; at: number }[] = []

  constructor(
    private readonly core: EdgeCore,
    private readonly sender: SessionSender,
    private readonly broadcastKeys: BroadcastSender,
    private readonly supernodes: RelaySide,
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
      this.flood(frame)
      return
    }
    const peer = core.peers.byMacKey(dst)
    if (peer === undefined) {
      // like a switch with an unknown destination: flood it (receivers keep only their own MAC) and ask
      this.flood(frame)
      this.queryUnknown(dst)
      return
    }
    peer.txPackets++
    peer.txBytes += frame.length
    this.toPeer(peer, frame)
  }

  /** A frame for one peer: sealed by its session, direct or relayed; held while the session is not ready. */
  toPeer(peer: Peer, frame: Buffer): void {
    const result = this.sendSession(peer, SessionKind.Frame, frame)
    switch (result) {
      case 'sent':
        return
      case 'not-ready': {
        // the seal that found no keys started the handshake; its `ready` sends what waits
        const refused = peer.pending.hold(frame)
        if (refused !== null) this.core.drops[refused]++
        return
      }
      case 'no-supernode':
        this.hold(peer.edgeId, frame)
        return
      default:
        this.core.drops[result]++
    }
  }

  /** The peer's session is ready: our broadcast key, then what waited for it, in order. */
  sessionReady(peer: Peer): void {
    this.broadcastKeyTo(peer)
    for (const frame of peer.pending.take()) this.toPeer(peer, frame)
  }

  /** Our current broadcast key, to one peer in our session. */
  broadcastKeyTo(peer: Peer): void {
    this.sendSession(peer, SessionKind.BroadcastKey, this.broadcastKeys.payload)
  }

  /**
   * Our broadcast key changed: every peer with a ready session that is not idle gets the new one
   * (an idle peer gets it when a session is ready again; sending to it now would rekey a session
   * nobody uses, and keep it from ever going idle).
   */
  broadcastKeyChanged(peers: Iterable<Peer>, idleAfterMs: number): void {
    const now = this.core.now()
    for (const peer of peers) {
      if (peer.session.state === 'ready' && now - peer.lastSeen < idleAfterMs) this.sendSession(peer, SessionKind.BroadcastKey, this.broadcastKeys.payload)
    }
  }

  /** A userspace-stream packet (SESSION_DATA kind 4) to one peer: lost when its session is not ready (SCTP sends it again). */
  stream(peer: Peer, packet: Buffer): void {
    const result = this.sendSession(peer, SessionKind.Stream, packet)
    if (result !== 'sent' && result !== 'not-ready') this.core.drops[result]++
  }

  /** A receipt part (SESSION_DATA kind 5) to one peer: lost when its session is not ready (receipt-transfer.ts sends it again). */
  receipt(peer: Peer, payload: Buffer): void {
    const result = this.sendSession(peer, SessionKind.Receipt, payload)
    if (result !== 'sent' && result !== 'not-ready' && result !== 'no-supernode') this.core.drops[result]++
  }

  /** The answer to a probe, through the socket the probe came in on. */
  probeAck(peer: Peer, payload: Buffer, address: string, port: number, via: Transport | null): void {
    const result = this.sender.direct(peer.session, SessionKind.ProbeAck, payload, address, port, 0, via)
    if (result !== 'sent' && result !== 'not-ready') this.core.drops[result]++
  }

  /**
   * A handshake message a session made on its own (initiation, retry): straight to the peer on a
   * direct path, else through the relay.
   */
  handshake(session: PairSession, peerId: number, peer: Peer | undefined, packet: Buffer): void {
    const direct = peer?.path.isDirect === true ? peer.path.endpoint : null
    if (direct !== null) this.count(this.sender.packet(packet, direct.address, direct.port, peer!.path.via))
    else this.relayPacket(peerId, packet)
  }

  /** A handshake response goes back the way its initiation came: to `direct`, or (null) through the relay. */
  handshakeReply(peer: Peer, reply: Buffer, direct: { address: string; port: number; via: Transport | null } | null): void {
    if (direct !== null) this.count(this.sender.packet(reply, direct.address, direct.port, direct.via))
    else this.relayPacket(peer.edgeId, reply)
  }

  /** Sends what waited for a registration; what waited too long is dropped and counted. */
  releaseHeld(): void {
    const held = this.held
    this.held = []
    const now = this.core.now()
    for (const h of held) {
      if (now - h.at > UNREGISTERED_HOLD_MS) this.core.drops['no-supernode']++
      else if (h.peerId === 0) this.flood(h.frame)
      else {
        const peer = this.core.peers.get(h.peerId)
        if (peer === undefined) this.core.drops['peer-removed']++
        else this.toPeer(peer, h.frame)
      }
    }
  }

  /** Sealed once with our broadcast key; the relaying supernode hands a copy to every member. */
  flood(frame: Buffer): void {
    const link = this.supernodes.relayLink(this.core.now())
    if (link === undefined) {
      this.hold(0, frame)
      return
    }
    const result = this.sender.broadcast(this.broadcastKeys, frame, link)
    if (result === 'sent') this.core.counters.relayedOut++
    else this.core.drops[result === 'not-ready' ? 'send-queue-full' : result]++
  }

  /** A session packet to one peer: direct on a direct path, else relayed (`no-supernode` while none is registered). */
  private sendSession(peer: Peer, kind: SessionKind, payload: Uint8Array): SendResult | 'no-supernode' {
    const core = this.core
    const direct = peer.path.isDirect ? peer.path.endpoint : null
    // directOut and relayedOut count frames (the session's own packets are not traffic)
    if (direct !== null) {
      const result = this.sender.direct(peer.session, kind, payload, direct.address, direct.port, 0, peer.path.via)
      if (result === 'sent' && kind === SessionKind.Frame) core.counters.directOut++
      return result
    }
    const link = this.supernodes.relayLink(core.now())
    if (link === undefined) return 'no-supernode'
    const result = this.sender.relayed(peer.session, kind, payload, peer.edgeId, link)
    if (result === 'sent' && kind === SessionKind.Frame) core.counters.relayedOut++
    return result
  }

  private relayPacket(peerId: number, packet: Buffer): void {
    const link = this.supernodes.relayLink(this.core.now())
    if (link === undefined) {
      // the session retries on its own schedule: by then a supernode may be registered
      this.core.drops['no-supernode']++
      return
    }
    this.count(this.sender.packet(packet, '', 0, null, { destId: peerId, route: link }))
  }

  private count(result: SendResult): void {
    if (result !== 'sent' && result !== 'not-ready') this.core.drops[result]++
  }

  private hold(peerId: number, frame: Buffer): void {
    if (this.held.length < UNREGISTERED_HOLD_FRAMES) this.held.push({ peerId, frame: Buffer.from(frame), at: this.core.now() })
    else this.core.drops['no-supernode']++
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
