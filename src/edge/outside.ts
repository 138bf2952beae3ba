// Datagrams coming in: receive → the pair session opens it → its peer → by kind: a frame goes
// through the filter to the TAP, a probe is answered, a probe-ack moves that peer's path, a
// broadcast key is kept. Reads top to bottom as a packet travels. Session packets come straight
// from a peer or inside a RELAY from our supernode (a BROADCAST only so, sealed with its sender's
// broadcast key); control packets from our supernodes go to their link, to the peer directory or
// to the revocations; anything else is dropped and counted.
import type { SessionTable } from '../crypto/session-table.js'
import type { Transport } from '../net/transport.js'
import type { TapDevice } from '../tap/device.js'
import {
  BroadcastHeader,
  MAX_PACKET_BYTES,
  PacketType,
  RELAY_PREFIX_BYTES,
  RelayHeader,
  SessionKind,
  SessionPacketType,
  WIRE_VERSION,
  decodeBroadcastKeyPayload,
  decodePacket,
  encodeProbeAckPayload,
  endpointOf,
  isSessionType,
  readBroadcastHeader,
  readProbeAckPayload,
  readProbePayload,
  readRelayHeader,
  type ControlPacket,
  type RevocationPacket,
} from '../wire/index.js'
import type { AllowFilter } from './allow-filter.js'
import type { BirthdayPuncher } from './birthday.js'
import type { EdgeCore } from './core.js'
import type { FrameFilter } from './frame-filter.js'
import type { HeldBroadcasts } from './held-broadcasts.js'
import type { Outbound } from './inside.js'
import type { PeerDirectory } from './peer-directory.js'
import type { Peer } from './peers.js'
import type { RelayRoute } from './session-sender.js'

/** Which of our supernodes a datagram came from (supernodes.ts), and where the relay is. */
export interface SupernodeRoutes {
  /** the supernode a datagram came from, if it came from one (undefined: a peer, or a stranger) */
  from(address: string, port: number, via: Transport | null): object | undefined
  /** the relaying supernode, or undefined while none is registered */
  relayLink(now: number): (RelayRoute & { readonly reflexive: { address: string; port: number } | null }) | undefined
}

/** What the inbound half is given: the shared core and what only it uses. */
export interface InboundParts {
  sessions: SessionTable
  /** answers probes, sends handshake replies */
  outbound: Outbound
  filter: FrameFilter
  /** the --allow rules, or null when everything addressed to the host may pass */
  allow: AllowFilter | null
  tap: TapDevice
  supernodes: SupernodeRoutes
  directory: PeerDirectory
  birthday: BirthdayPuncher
  /** broadcasts of senders whose key we do not have yet */
  held: HeldBroadcasts
  /** a control packet for the supernode link it came from (cookie, register-ack, keepalive-ack, error) */
  linkControl(packet: ControlPacket, address: string, port: number, via: Transport | null): void
  /** a revocation a supernode forwarded */
  revocation(packet: RevocationPacket): void
  /** a datagram of protocol v1: true when it is the v1 COOKIE answering a supernode link's probe (wire-v2 W1) */
  oldProtocol(msg: Buffer, address: string, port: number, via: Transport | null): boolean
  /** a userspace-stream packet (SESSION_DATA kind 4; a view of a reused buffer) for the stream hub */
  stream(peer: Peer, payload: Buffer): void
  /** a receipt part (SESSION_DATA kind 5; a view of a reused buffer) for receipt-transfer.ts */
  receipt(peer: Peer, payload: Buffer): void
}

/** A probe ID more than this far from our clock is not an answer to a recent probe of ours. */
const MAX_PROBE_AGE_MS = 60_000

export class Inbound {
  private readonly relay = new RelayHeader()
  private readonly broadcastHeader = new BroadcastHeader()
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
    const type = msg.length >= 2 && msg[0] === WIRE_VERSION ? msg[1]! : -1
    if (isSessionType(type) && type !== SessionPacketType.Broadcast) this.session(msg, address, port, via, 0)
    else if (this.parts.supernodes.from(address, port, via) === undefined) core.drops['unexpected-source']++
    else if (type === PacketType.Relay) this.relayed(msg, address, port, via)
    else this.control(msg, address, port, via)
  }

  /** A RELAY from our supernode: a session packet of one peer, or a broadcast. */
  private relayed(msg: Buffer, address: string, port: number, via: Transport | null): void {
    const core = this.core
    const h = this.relay
    const bad = readRelayHeader(msg, h)
    if (bad !== null) {
      core.drops[bad]++
      return
    }
    if (h.senderId === core.edgeId) {
      core.drops['own-packet']++
      return
    }
    if (h.destId !== 0 && h.destId !== core.edgeId) {
      core.drops['not-for-us']++
      return
    }
    const inner = msg.subarray(RELAY_PREFIX_BYTES)
    if (h.innerType === SessionPacketType.Broadcast) this.broadcast(inner, h.senderId)
    else this.session(inner, address, port, via, h.senderId)
  }

  /**
   * A session packet (untrusted): the session table opens it, or answers or completes a handshake.
   * `relayedFrom`: the sender's edge ID when it came inside a RELAY (the supernode vouches for it), 0 when straight.
   */
  private session(packet: Buffer, address: string, port: number, via: Transport | null, relayedFrom: number): void {
    const core = this.core
    const relayed = relayedFrom !== 0
    const result = this.parts.sessions.receive(packet, this.plain)
    if (result.kind === 'dropped') {
      // counted by the session table, under its reason
      if (relayed && result.reason === 'unknown-index') this.unknownKeys(relayedFrom)
      return
    }
    const session = result.session!
    if (result.kind === 'handshake') {
      // the handshake carried the peer's certificate: its peer exists now, or it is refused
      const peer = this.parts.directory.fromHandshake(session)
      if (peer === null) return
      if (result.reply !== null) this.parts.outbound.handshakeReply(peer, result.reply, relayed ? null : { address, port, via })
      if (!relayed) this.heardDirect(peer, address, port, via)
      // a handshake through the relay while we hold a direct path: the peer does not reach us there (it restarted on another port, say)
      else peer.path.suspect(core.now())
      return
    }
    const peer = core.peers.ofSession(session)
    if (peer === undefined) {
      core.drops['no-peer']++
      return
    }
    if (!relayed) this.heardDirect(peer, address, port, via)
    const length = result.length
    // traffic and path probes keep a peer from going idle; keepalives and broadcast keys do not
    switch (result.dataKind) {
      case SessionKind.Frame:
        // an empty frame is a keepalive: it has done its work (confirmed the session, kept it fresh)
        if (length > 0) {
          peer.lastSeen = core.now()
          this.frame(peer, this.plain, length)
        }
        return
      case SessionKind.Probe:
        peer.lastSeen = core.now()
        this.probe(peer, length, address, port, relayed, via)
        return
      case SessionKind.ProbeAck:
        peer.lastSeen = core.now()
        this.probeAck(peer, length, address, port, relayed, via)
        return
      case SessionKind.BroadcastKey:
        this.broadcastKey(peer, length)
        return
      case SessionKind.Stream:
        // stream traffic is traffic: the peer stays (SCTP heartbeats keep an idle association's peer)
        peer.lastSeen = core.now()
        this.parts.stream(peer, this.plain.subarray(0, length))
        return
      case SessionKind.Receipt:
        this.parts.receipt(peer, this.plain.subarray(0, length))
    }
  }

  /**
   * A member sealed to us under keys we do not have: we restarted (same identity) and it still
   * holds the session it had with our old process, or we forgot the session. Ask the supernode for
   * it (its answer starts our handshake, and tells it where we are now), or, a known peer, start
   * the handshake. Within the query budget; nothing is dropped on either side. For a known peer
   * this is a restart sign like any other (anyone in the supernode's place can forge it): one
   * handshake per RESTART_SIGN_GAP_MS at most (hostile/forged-restart-signs.test.ts).
   */
  private unknownKeys(senderId: number): void {
    const peer = this.core.peers.get(senderId)
    if (peer === undefined) this.parts.directory.askFor(senderId, this.core.now())
    else if (!peer.session.rekeying) this.parts.directory.peerRestarted(peer)
  }

  /** Authenticated, straight from the peer (on any socket of ours): the direct path, if it is that one, lives. */
  private heardDirect(peer: Peer, address: string, port: number, via: Transport | null): void {
    if (via !== null) this.parts.birthday.reached(peer, via)
    peer.path.heardFrom(address, port, this.core.now())
  }

  /**
   * A flooded frame, sealed once by its sender with the broadcast key it gave us in our pair
   * session. One under a key we do not have yet (no session with its sender so far) is held and its
   * sender asked for: the key comes with the session, and what was held is opened then.
   */
  private broadcast(packet: Buffer, senderId: number, wasHeld = false): void {
    const core = this.core
    const h = this.broadcastHeader
    const bad = readBroadcastHeader(packet, h)
    if (bad !== null) {
      core.drops[bad]++
      return
    }
    // the relay prefix names the sender; only the key that sender gave us can open it
    const peer = core.peers.get(senderId)
    const now = core.now()
    const opened = peer === undefined ? 'unknown-broadcast-key' : peer.broadcast.open(packet, h.keyId, h.counter, now, this.plain)
    if (opened === 'unknown-broadcast-key' && !wasHeld && this.parts.held.hold(senderId, packet, now)) {
      // a stranger: ask the supernode for it; a peer whose session lapsed (idle past its keys'
      // lifetime): a new handshake, at whose end each side hands the other its key
      if (peer === undefined) this.parts.directory.askFor(senderId, now)
      else if (peer.session.state !== 'ready') peer.session.initiate()
      // a ready session, yet a key it never gave us: the peer may have restarted (same identity)
      // and lost the session; a handshake makes one it has and hands its key over
      else this.parts.directory.peerRestarted(peer)
      return
    }
    if (typeof opened === 'string') {
      core.drops[opened]++
      return
    }
    peer!.lastSeen = now
    this.frame(peer!, this.plain, opened)
  }

  /** The forwarding-disabled filter, bound to the peer's certificate, then the host. */
  private frame(peer: Peer, frame: Buffer, length: number): void {
    const core = this.core
    const { filter, allow } = this.parts
    peer.rxPackets++
    peer.rxBytes += length
    const reason = filter.check(frame, length, peer.identity.binding)
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

  /** A probe from the peer, straight (a relayed probe proves no path): answered the way it came. */
  private probe(peer: Peer, length: number, address: string, port: number, relayed: boolean, via: Transport | null): void {
    const core = this.core
    const probe = readProbePayload(this.plain.subarray(0, length))
    if (!probe.ok || relayed) {
      core.drops['bad-probe']++
      return
    }
    const from = endpointOf(address, port)
    // answer through the socket it came in on: that is the NAT mapping the peer found
    this.parts.outbound.probeAck(peer, encodeProbeAckPayload(probe.value, from), address, port, via)
    peer.path.onProbeFrom(from, via, true, core.now())
  }

  /** A probe-ack opened by this peer's own session: only this peer's path can move. */
  private probeAck(peer: Peer, length: number, address: string, port: number, relayed: boolean, via: Transport | null): void {
    const core = this.core
    const now = core.now()
    const ack = readProbeAckPayload(this.plain.subarray(0, length))
    if (!ack.ok || relayed || ack.value.probeId > now || now - ack.value.probeId > MAX_PROBE_AGE_MS) {
      core.drops['bad-probe']++
      return
    }
    peer.path.onProbeAck(address, port, via, now - ack.value.probeId, true, now)
  }

  private broadcastKey(peer: Peer, length: number): void {
    const decoded = decodeBroadcastKeyPayload(this.plain.subarray(0, length))
    if (!decoded.ok) {
      this.core.drops[decoded.reason]++
      return
    }
    peer.broadcast.accept(decoded.value, this.core.now())
    // the key is in secret memory now: no copy of it stays in the receive buffer
    this.plain.fill(0, 0, length)
    for (const packet of this.parts.held.take(peer.edgeId)) this.broadcast(packet, peer.edgeId, true)
  }

  private control(msg: Buffer, address: string, port: number, via: Transport | null): void {
    const core = this.core
    const decoded = decodePacket(msg)
    if (!decoded.ok) {
      // a supernode of overlan 0.1 answering the link's v1 probe is said once (supernode-link.ts); other v1 datagrams are drops
      if (decoded.reason === 'old-protocol' && this.parts.oldProtocol(msg, address, port, via)) return
      core.drops[decoded.reason]++
      return
    }
    const packet = decoded.value
    switch (packet.type) {
      case PacketType.Cookie:
      case PacketType.RegisterAck:
      case PacketType.KeepaliveAck:
      case PacketType.Error:
      case PacketType.Enroll:
        this.parts.linkControl(packet, address, port, via)
        return
      case PacketType.PeerInfo:
      case PacketType.PunchRequest:
        this.parts.directory.onPeerInfo(packet)
        return
      case PacketType.Revocation:
        this.parts.revocation(packet)
        return
      default:
        core.drops['unexpected-type']++
    }
  }
}
