// Datagrams coming in: receive → check the header → replay window → open → filter → TAP.
// Reads top to bottom as a packet travels. Control packets from our supernodes go to their link;
// anything else that is not sealed is dropped and counted.
import type { FrameCipher } from '../crypto/aead.js'
import type { Transport } from '../net/transport.js'
import {
  MAX_PACKET_BYTES,
  PacketType,
  SealedHeader,
  decodePacket,
  encodeProbeAckPayload,
  ipFamily,
  isSealedType,
  readProbeAckPayload,
  readProbePayload,
  readSealedHeader,
} from '../wire/index.js'
import type { EdgeCore } from './core.js'
import { PENDING_FRAMES_PER_PEER, type Peer } from './peers.js'
import { hasDirectEndpoint } from './path.js'
import { DIRECT_KEEPALIVE_MS } from './punch.js'

/** A probe ID more than this far from our clock is not an answer to a recent probe of ours. */
const MAX_PROBE_AGE_MS = 60_000

export class Inbound {
  private readonly header = new SealedHeader()
  /** decrypted payloads land here; the TAP write is synchronous, so one buffer serves every packet */
  private readonly plain = Buffer.allocUnsafe(MAX_PACKET_BYTES)

  constructor(
    private readonly core: EdgeCore,
    private readonly cipher: FrameCipher,
  ) {}

  /** Datagrams on the main socket. */
  readonly onDatagram = (msg: Buffer, address: string, port: number): void => {
    this.receive(msg, address, port, null)
  }

  /** `via`: the birthday-punching socket it arrived on, or null for the main one. */
  receive(msg: Buffer, address: string, port: number, via: Transport | null): void {
    const core = this.core
    core.counters.packetsIn++
    core.counters.bytesIn += msg.length
    if (msg.length >= 2 && isSealedType(msg[1]!)) this.sealed(msg, address, port, via)
    else if (via === null) this.control(msg, address, port)
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
    const length = this.cipher.open(msg, this.plain)
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
      core.queryPeer({ kind: 'edge', edgeId: h.senderId })
    }
    peer.replay.accept(h.counter)
    peer.lastSeen = now
    const viaSupernode = core.linkFrom(address, port) !== undefined
    if (via !== null) core.birthday.reached(peer, via)
    // from the peer's direct endpoint, on any socket of ours: the path is alive
    if (!viaSupernode && peer.direct !== null && peer.direct.address === address && peer.direct.port === port) peer.lastDirectRx = now

    switch (h.type) {
      case PacketType.Data:
      case PacketType.Relay:
        this.frame(peer, length, now)
        return
      case PacketType.Probe:
        this.probe(peer, length, address, port, viaSupernode, now, via)
        return
      case PacketType.ProbeAck:
        this.probeAck(peer, length, address, port, viaSupernode, now, via)
    }
  }

  private frame(peer: Peer, length: number, now: number): void {
    const core = this.core
    peer.rxPackets++
    peer.rxBytes += length
    if (!peer.verified) {
      // its record says which MAC is its own; until it arrives, hold a few frames
      if (peer.pending.length === 0) peer.pendingSince = now
      if (peer.pending.length < PENDING_FRAMES_PER_PEER) peer.pending.push(Buffer.from(this.plain.subarray(0, length)))
      else core.drops['unverified-peer']++
      return
    }
    this.deliver(peer, this.plain, length)
  }

  /** The forwarding-disabled filter, then the host. Also used for frames that waited for a record. */
  deliver(peer: Peer, frame: Buffer, length: number): void {
    const core = this.core
    const reason = core.filter.check(frame, length, peer.macKey)
    if (reason !== null) {
      core.drops[reason]++
      return
    }
    if (core.allow !== null && core.allow.inbound(frame, core.filter.info, core.now()) !== null) {
      core.drops['not-allowed']++
      return
    }
    if (core.tap.write(frame.subarray(0, length))) core.counters.tapFramesOut++
    else core.drops['tap-write-failed']++
  }

  private probe(peer: Peer, length: number, address: string, port: number, viaSupernode: boolean, now: number, via: Transport | null): void {
    const core = this.core
    const probe = readProbePayload(this.plain.subarray(0, length))
    if (!probe.ok || viaSupernode) {
      core.drops['bad-probe']++
      return
    }
    const family = ipFamily(address) === 6 ? 6 : 4
    // answer through the socket it came in on: that is the NAT mapping the peer found
    core.sender.send(PacketType.ProbeAck, peer.edgeId, encodeProbeAckPayload(probe.value, { family, address, port }), address, port, 0, via)
    if (core.relayOnly) return
    const fromDirect = peer.direct !== null && peer.direct.address === address && peer.direct.port === port && peer.directVia === via
    if (hasDirectEndpoint(peer.path) && fromDirect) return
    // the address it came from is a candidate too (peer-reflexive): a NAT may have given the peer a
    // port nobody could predict; probing it back is what opens our side toward it. A probe that
    // reached a birthday socket is probed back through that socket, whatever we knew of the address.
    // On a direct path, a probe from elsewhere says the peer's NAT moved it (its conntrack was
    // flushed, say): the answer to probing it back moves the path there.
    const isNew = peer.addCandidate({ family, address, port })
    if (isNew || via !== null) core.puncher.probe(peer, address, port, now, 0, via)
  }

  private probeAck(peer: Peer, length: number, address: string, port: number, viaSupernode: boolean, now: number, via: Transport | null): void {
    const core = this.core
    const ack = readProbeAckPayload(this.plain.subarray(0, length))
    if (!ack.ok || viaSupernode || ack.value.probeId > now || now - ack.value.probeId > MAX_PROBE_AGE_MS) {
      core.drops['bad-probe']++
      return
    }
    peer.rttMs = now - ack.value.probeId
    if (core.relayOnly || !peer.verified) return
    const family = ipFamily(address) === 6 ? 6 : 4
    const moved = peer.direct === null || peer.direct.address !== address || peer.direct.port !== port || peer.directVia !== via
    if (peer.path !== 'direct' || moved) {
      peer.direct = { family, address, port }
      peer.directVia = via
      peer.lastDirectRx = now
      peer.nextProbeAt = now + DIRECT_KEEPALIVE_MS
      core.birthday.adopt(peer)
      if (peer.move('probe-ack') || moved) core.pathChanged(peer)
    }
  }

  private control(msg: Buffer, address: string, port: number): void {
    const core = this.core
    const link = core.linkFrom(address, port)
    if (link === undefined) {
      core.drops['unexpected-source']++
      return
    }
    const decoded = decodePacket(msg)
    if (!decoded.ok) {
      core.drops[decoded.reason]++
      return
    }
    const packet = decoded.value
    switch (packet.type) {
      case PacketType.Cookie:
        return link.onCookie(packet)
      case PacketType.RegisterAck:
        return link.onRegisterAck(packet)
      case PacketType.KeepaliveAck:
        return link.onKeepaliveAck(packet)
      case PacketType.Error:
        return link.onError(packet)
      case PacketType.PeerInfo:
      case PacketType.PunchRequest:
        return core.onPeerInfo(packet)
      default:
        core.drops['unexpected-type']++
    }
  }
}
