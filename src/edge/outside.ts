// Datagrams coming in: receive → check the header → replay window → open → filter → TAP.
// Reads top to bottom as a packet travels. Control packets from our supernodes go to their link,
// or to the peer directory (what they say about peers); anything else that is not sealed is
// dropped and counted.
import type { FrameCipher } from '../crypto/aead.js'
import type { Transport } from '../net/transport.js'
import type { TapDevice } from '../tap/device.js'
import {
  MAX_PACKET_BYTES,
  PacketType,
  SealedHeader,
  decodePacket,
  encodeProbeAckPayload,
  endpointOf,
  isSealedType,
  readProbeAckPayload,
  readProbePayload,
  readSealedHeader,
} from '../wire/index.js'
import type { AllowFilter } from './allow-filter.js'
import type { BirthdayPuncher } from './birthday.js'
import type { EdgeCore } from './core.js'
import type { FrameFilter } from './frame-filter.js'
import type { PeerDirectory } from './peer-directory.js'
import type { Peer } from './peers.js'
import type { SealedSender } from './sealed-sender.js'
import type { Supernodes } from './supernodes.js'

/** What the inbound half is given: the shared core and what only it uses. */
export interface InboundParts {
  cipher: FrameCipher
  /** answers probes */
  sender: SealedSender
  filter: FrameFilter
  /** the --allow rules, or null when everything addressed to the host may pass */
  allow: AllowFilter | null
  tap: TapDevice
  supernodes: Supernodes
  directory: PeerDirectory
  birthday: BirthdayPuncher
}

/** A probe ID more than this far from our clock is not an answer to a recent probe of ours. */
const MAX_PROBE_AGE_MS = 60_000

export class Inbound {
  private readonly header = new SealedHeader()
  /** decrypted payloads land here; the TAP write is synchronous, so one buffer serves every packet */
  private readonly plain = Buffer.allocUnsafe(MAX_PACKET_BYTES)

  constructor(
    private readonly core: EdgeCore,
    private readonly parts: InboundParts,
  ) {}

  /** Datagrams on the main socket. */
  readonly onDatagram = (msg: Buffer, address: string, port: number): void => {
    this.receive(msg, address, port, null)
  }

  /** `via`: the birthday-punching socket or supernode fallback stream it arrived on, or null for the main one. */
  receive(msg: Buffer, address: string, port: number, via: Transport | null): void {
    const core = this.core
    core.counters.packetsIn++
    core.counters.bytesIn += msg.length
    if (msg.length >= 2 && isSealedType(msg[1]!)) this.sealed(msg, address, port, via)
    else if (via === null || this.parts.supernodes.from(address, port, via) !== undefined) this.control(msg, address, port, via)
    else core.drops['unexpected-source']++
  }

  private sealed(msg: Buffer, address: string, port: number, via: Transport | null): void {
    const core = this.core
    const h = this.header
    const bad = readSealedHeader(msg, h)
    if (bad !== null) {
      core.drops[bad]++
      return
    }
    if (h.destId !== 0 && h.destId !== core.edgeId) {
      core.drops['not-for-us']++
      return
    }
    if (h.senderId === core.edgeId) {
      core.drops['own-packet']++
      return
    }
    const known = core.peers.get(h.senderId)
    if (known !== undefined) {
      const verdict = known.replay.check(h.counter)
      if (verdict !== 'fresh') {
        core.drops[verdict]++
        return
      }
    }
    const length = this.parts.cipher.open(msg, this.plain)
    if (length < 0) {
      core.drops['auth-failed']++
      return
    }
    // authenticated: a member of the community sent it. Only now may it create state.
    const now = core.now()
    const peer = known ?? core.peers.getOrCreate(h.senderId, now)
    if (peer === undefined) {
      core.drops['peer-table-full']++
      return
    }
    if (known === undefined) {
      // a peer we forgot and meet again keeps its old counters refused (peers.ts)
      const verdict = peer.replay.check(h.counter)
      if (verdict !== 'fresh') {
        core.drops[verdict]++
        core.peers.remove(peer) // forgotten again, with its floor: a replay creates no state
        return
      }
      this.parts.directory.askForRecord(h.senderId, now)
    }
    peer.replay.accept(h.counter)
    peer.lastSeen = now
    const viaSupernode = this.parts.supernodes.from(address, port, via) !== undefined
    if (via !== null && !viaSupernode) this.parts.birthday.reached(peer, via)
    // from the peer's direct endpoint, on any socket of ours: the path is alive
    if (!viaSupernode) peer.path.heardFrom(address, port, now)

    switch (h.type) {
      case PacketType.Data:
      case PacketType.Relay:
        this.frame(peer, length)
        return
      case PacketType.Probe:
        this.probe(peer, length, address, port, viaSupernode, now, via)
        return
      case PacketType.ProbeAck:
        this.probeAck(peer, length, address, port, viaSupernode, now, via)
    }
  }

  private frame(peer: Peer, length: number): void {
    const core = this.core
    peer.rxPackets++
    peer.rxBytes += length
    if (!peer.verified) {
      // its record says which MAC is its own; until it arrives, hold a few frames
      const refused = peer.pending.hold(this.plain.subarray(0, length))
      if (refused !== null) core.drops[refused]++
      return
    }
    this.deliver(peer, this.plain, length)
  }

  /** The forwarding-disabled filter, then the host. */
  private deliver(peer: Peer, frame: Buffer, length: number): void {
    const core = this.core
    const { filter, allow } = this.parts
    const binding = peer.identity?.binding
    if (binding === undefined) {
      core.drops['unverified-peer']++
      return
    }
    const reason = filter.check(frame, length, binding)
    if (reason !== null) {
      core.drops[reason]++
      return
    }
    if (allow !== null && allow.inbound(frame, filter.info, core.now()) !== null) {
      core.drops['not-allowed']++
      return
    }
    if (this.parts.tap.write(frame.subarray(0, length))) core.counters.tapFramesOut++
    else core.drops['tap-write-failed']++
  }

  private probe(peer: Peer, length: number, address: string, port: number, viaSupernode: boolean, now: number, via: Transport | null): void {
    const core = this.core
    const probe = readProbePayload(this.plain.subarray(0, length))
    if (!probe.ok || viaSupernode) {
      core.drops['bad-probe']++
      return
    }
    const from = endpointOf(address, port)
    // answer through the socket it came in on: that is the NAT mapping the peer found
    this.parts.sender.send(PacketType.ProbeAck, peer.edgeId, encodeProbeAckPayload(probe.value, from), address, port, 0, via)
    peer.path.onProbeFrom(from, via, peer.verified, now)
  }

  private probeAck(peer: Peer, length: number, address: string, port: number, viaSupernode: boolean, now: number, via: Transport | null): void {
    const core = this.core
    const ack = readProbeAckPayload(this.plain.subarray(0, length))
    if (!ack.ok || viaSupernode || ack.value.probeId > now || now - ack.value.probeId > MAX_PROBE_AGE_MS) {
      core.drops['bad-probe']++
      return
    }
    peer.path.onProbeAck(address, port, via, now - ack.value.probeId, peer.verified, now)
  }

  private control(msg: Buffer, address: string, port: number, via: Transport | null): void {
    const core = this.core
    const link = this.parts.supernodes.from(address, port, via)
    if (link === undefined) {
      core.drops['unexpected-source']++
      return
    }
    const decoded = decodePacket(msg)
    if (!decoded.ok) {
      // the v1 COOKIE that answers the link's probe says the supernode is overlan 0.1 (wire-v2 W1)
      if (decoded.reason === 'old-protocol' && link.onOldProtocol(msg)) return
      core.drops[decoded.reason]++
      return
    }
    const packet = decoded.value
    switch (packet.type) {
      case PacketType.Revocation:
        return link.onRevocation(packet)
      case PacketType.Cookie:
        return link.onCookie(packet, via, port)
      case PacketType.RegisterAck:
        return link.onRegisterAck(packet, via)
      case PacketType.KeepaliveAck:
        return link.onKeepaliveAck(packet, via)
      case PacketType.Error:
        return link.onError(packet)
      case PacketType.PeerInfo:
      case PacketType.PunchRequest: {
        const peer = this.parts.directory.onPeerInfo(packet)
        if (peer !== null) for (const frame of peer.pending.take()) this.deliver(peer, frame, frame.length)
        return
      }
      default:
        core.drops['unexpected-type']++
    }
  }
}
