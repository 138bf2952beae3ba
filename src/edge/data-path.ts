// An edge's data path (protocol v2), put together: the pair sessions (one SessionTable), the peers
// their certificates make (peers.ts), the two directions (inside.ts out, outside.ts in), the ring
// sender, punching (punch.ts, birthday.ts), our broadcast key, and the frame filter. The edge
// (edge.ts) gives it a socket, a TAP, its credentials and its supernodes, and calls tick(); tests
// build one alone, with a stand-in relay.
import type { CheckedCertificate } from '../crypto/certificate.js'
import type { Identity } from '../crypto/identity.js'
import type { PairSession } from '../crypto/noise-session.js'
import { SessionTable, type SessionDropReason } from '../crypto/session-table.js'
import type { SessionLimits } from '../crypto/noise-session.js'
import type { Logger } from '../log/logger.js'
import { formatHostPort } from '../net/address.js'
import type { Transport } from '../net/transport.js'
import type { TapDevice } from '../tap/device.js'
import type { Clock } from '../time/clock.js'
import { edgeIdOf } from '../crypto/keys.js'
import { formatEdgeId, ipv4Value, writeIPv6, type Certificate, type ControlPacket, type PeerTarget, type RevocationPacket } from '../wire/index.js'
import { AllowFilter, type AllowRules } from './allow-filter.js'
import { BIRTHDAY_PORTS, BirthdayPuncher, birthdayRole, type OpenTransport } from './birthday.js'
import { BroadcastSender } from './broadcast-keys.js'
import type { EdgeCore } from './core.js'
import type { EdgeCounters } from './counters.js'
import { FrameFilter } from './frame-filter.js'
import { HeldBroadcasts } from './held-broadcasts.js'
import { Outbound, type RelaySide } from './inside.js'
import { Inbound, type SupernodeRoutes } from './outside.js'
import { OwnSubnets, type LocalAddress } from './own-subnets.js'
import type { PathActions, PathOwner } from './path.js'
import { PEER_IDLE_MS, PeerDirectory, type PeerChecks } from './peer-directory.js'
import { PeerTable, type Peer, type PeerRemoval } from './peers.js'
import { Prober } from './punch.js'
import type { EdgeReason } from './reasons.js'
import { ReceiptTransfer, type ReceiptSender } from './receipt-transfer.js'
import { SessionSender } from './session-sender.js'

/** What the data path needs of the edge's credentials (credentials.ts Credentials has all of it). */
export interface DataPathCredentials extends PeerChecks {
  readonly identity: Identity
  readonly certificate: Certificate
  readonly certificateBytes: Buffer
  readonly communityId: Buffer
  checkPeer(bytes: Buffer): CheckedCertificate
}

export interface DataPathConfig {
  credentials: DataPathCredentials
  transport: Transport
  tap: TapDevice
  clock: Clock
  log: Logger
  supernodes: SupernodeRoutes & RelaySide
  counters: EdgeCounters
  drops: Record<EdgeReason, number>
  relayOnly?: boolean
  localAddresses?: LocalAddress[]
  allow?: AllowRules | null
  openTransport: OpenTransport
  birthdayPorts?: { from: number; to: number }
  /** a control packet for the supernode link it came from */
  linkControl(packet: ControlPacket, address: string, port: number, via: Transport | null): void
  /** a revocation a supernode forwarded */
  revocation(packet: RevocationPacket): void
  /** a datagram of protocol v1 from a supernode: true when its link took it (outside.ts) */
  oldProtocol(msg: Buffer, address: string, port: number, via: Transport | null): boolean
  /** a peer's path changed state or endpoint */
  pathChanged(peer: PathOwner): void
  /** pair-session timing (tests shorten it) */
  sessionLimits?: Partial<SessionLimits>
  /** userspace streams: kind-4 packets in, and peers leaving (their streams end) */
  streams?: { receive(peer: Peer, payload: Buffer): void; peerRemoved(peer: Peer): void }
  /** a whole receipt a peer handed us (SESSION_DATA kind 5) */
  receiptReceived?(text: Buffer, from: ReceiptSender): void
}

export class DataPath {
  readonly edgeId: number
  readonly sessions: SessionTable
  readonly peers: PeerTable
  readonly filter: FrameFilter
  readonly allow: AllowFilter | null
  readonly sender: SessionSender
  readonly prober: Prober
  readonly birthday: BirthdayPuncher
  readonly broadcastKeys: BroadcastSender
  readonly directory: PeerDirectory
  readonly inbound: Inbound
  readonly outbound: Outbound
  readonly core: EdgeCore
  /** broadcasts of members whose key has not come yet */
  readonly held = new HeldBroadcasts()
  /** end-of-session receipts, out (the device) and in (a technician) */
  readonly receipts: ReceiptTransfer

  constructor(private readonly config: DataPathConfig) {
    const { credentials, clock, counters, drops } = config
    this.edgeId = edgeIdOf(credentials.identity.publicKey)
    this.filter = new FrameFilter(config.tap.mac)
    this.allow = config.allow ? new AllowFilter(config.allow) : null
    this.sessions = new SessionTable({
      identity: credentials.identity,
      certificate: credentials.certificateBytes,
      communityId: credentials.communityId,
      clock,
      verifyCertificate: (bytes) => {
        const checked = credentials.checkPeer(bytes)
        return checked.ok ? checked.certificate.memberKey : null
      },
      send: (session, packet) => this.outbound.handshake(session, edgeIdOf(session.peerStatic), this.peers.ofSession(session), packet),
      onReady: (session) => this.sessionReady(session),
      onRekeyed: (session) => this.sessionRekeyed(session),
      onFailed: (session) => this.sessionFailed(session),
      limits: config.sessionLimits,
    })
    this.sender = new SessionSender(config.transport, this.edgeId)
    this.prober = new Prober(this.sender, counters)
    this.birthday = new BirthdayPuncher(
      this.prober,
      this.sender,
      counters,
      config.openTransport,
      (socket) => socket.onDatagram((msg, address, port) => this.inbound.receive(msg, address, port, socket)),
      config.birthdayPorts ?? BIRTHDAY_PORTS,
    )
    this.broadcastKeys = new BroadcastSender(clock.now())
    const sessions = {
      open: (certificate: Certificate): PairSession => this.sessions.open(certificate.memberKey, certificate.bytes),
      forget: (session: PairSession, until: number): void => this.sessions.forget(session, until),
    }
    this.peers = new PeerTable(this.pathActions(new OwnSubnets(config.localAddresses ?? [])), counters, drops, sessions, credentials.certificate, (peer, why) => this.peerRemoved(peer, why))
    this.core = { edgeId: this.edgeId, relayOnly: config.relayOnly ?? false, peers: this.peers, drops, counters, now: () => clock.now() }
    this.directory = new PeerDirectory(this.core, credentials, (target) => this.query(target), (session) => this.sessions.forget(session), config.log)
    this.outbound = new Outbound(this.core, this.sender, this.broadcastKeys, config.supernodes, this.allow)
    this.receipts = new ReceiptTransfer({ clock, drops, send: (peer, payload) => this.outbound.receipt(peer, payload), received: (text, from) => config.receiptReceived?.(text, from) })
    this.inbound = new Inbound(this.core, {
      sessions: this.sessions,
      outbound: this.outbound,
      filter: this.filter,
      allow: this.allow,
      tap: config.tap,
      supernodes: config.supernodes,
      directory: this.directory,
      birthday: this.birthday,
      held: this.held,
      linkControl: (packet, address, port, via) => config.linkControl(packet, address, port, via),
      revocation: (packet) => config.revocation(packet),
      oldProtocol: (msg, address, port, via) => config.oldProtocol(msg, address, port, via),
      stream: (peer, payload) => config.streams?.receive(peer, payload),
      receipt: (peer, payload) => this.receipts.receive(peer, payload),
    })
    this.ownCertificate(credentials.certificate, credentials.certificateBytes)
  }

  /** Starts the pair sessions' timers. */
  start(): void {
    this.sessions.start()
  }

  /** Each scheduler tick: every peer's timers (paths, certificates each second) and our broadcast key's age. */
  tick(now: number): void {
    this.directory.runTimers(now)
    this.core.drops['unknown-broadcast-key'] += this.held.expire(now)
    if (this.broadcastKeys.due(now)) this.rotateBroadcastKey(now)
  }

  /**
   * Our certificate changed (re-issued with the address the supernode assigned, renewed): the filter
   * takes its addresses, the handshakes that follow carry it, and every peer gets it now (a rekey).
   */
  ownCertificate(certificate: Certificate, bytes: Buffer): void {
    if (certificate.ipv4 !== null) this.filter.setIpv4(ipv4Value(certificate.ipv4.address), certificate.ipv4.prefix)
    if (certificate.ipv6 !== null) {
      const address = Buffer.alloc(16)
      writeIPv6(certificate.ipv6.address, address, 0)
      this.filter.addIpv6(address)
    }
    this.peers.setOwn(certificate)
    this.sessions.setCertificate(bytes)
  }

  /** The pair sessions' drops, by reason (shown with the edge's own in /status and /metrics). */
  get sessionDrops(): Record<SessionDropReason, number> {
    return this.sessions.drops
  }

  /** Erases every key: sessions, our broadcast key, the peers' broadcast keys. */
  async close(): Promise<void> {
    this.receipts.close()
    for (const peer of [...this.peers.values()]) this.peers.remove(peer, 'gone')
    this.sessions.close()
    this.broadcastKeys.destroy()
    await this.birthday.closeAll()
  }

  private query(target: PeerTarget): void {
    this.config.supernodes.query(target, this.config.clock.now())
  }

  private sessionReady(session: PairSession): void {
    const peer = this.peers.ofSession(session)
    if (peer === undefined) return
    this.outbound.sessionReady(peer)
    this.directory.sessionReady(peer)
  }

  /**
   * New keys with a peer: our broadcast key again, one packet per rekey. The peer may be a process
   * restarted with the same identity, which never had it (or an idle one that missed a rotation):
   * without it, everything we flood would be held there and taken for a sign of a restart.
   */
  private sessionRekeyed(session: PairSession): void {
    const peer = this.peers.ofSession(session)
    if (peer !== undefined) this.outbound.broadcastKeyTo(peer)
  }

  private sessionFailed(session: PairSession): void {
    const peer = this.peers.ofSession(session)
    if (peer === undefined) return
    this.core.drops['handshake-failed'] += peer.pending.take().length
    this.config.log.info(`peer ${formatEdgeId(peer.edgeId)}: no answer to the handshake; frames for it dropped until it answers`)
  }

  /** A peer left (gone, expired, revoked, replaced): a new broadcast key, so it cannot read what we flood next. */
  private peerRemoved(peer: Peer, why: PeerRemoval): void {
    this.config.streams?.peerRemoved(peer)
    this.receipts.peerRemoved(peer)
    if (why !== 'idle' && why !== 'evicted') this.rotateBroadcastKey(this.config.clock.now())
  }

  private rotateBroadcastKey(now: number): void {
    this.broadcastKeys.rotate(now)
    this.core.counters.broadcastKeyRotations++
    this.outbound.broadcastKeyChanged(this.peers.values(), PEER_IDLE_MS)
  }

  /** What a peer's path does outside itself: probes, queries, birthday punching, telling listeners. */
  private pathActions(subnets: OwnSubnets): PathActions {
    const config = this.config
    return {
      relayOnly: config.relayOnly ?? false,
      candidateRules: { subnets, counters: config.counters },
      probe: (owner, address, port, ttl, via) => this.prober.probe(owner, address, port, config.clock.now(), ttl, via),
      query: (owner) => this.query({ kind: 'edge', edgeId: owner.edgeId }),
      birthdayActive: (owner) => this.birthday.active(owner),
      birthdayStart: (owner, now) => this.startBirthday(owner, now),
      birthdayTick: (owner, now) => this.birthday.tick(owner, now),
      birthdayAdopt: (owner) => this.birthday.adopt(owner),
      birthdayRelease: (owner) => this.birthday.release(owner),
      changed: (owner) => config.pathChanged(owner),
    }
  }

  /**
   * Ordinary probes never met: perhaps a symmetric NAT; try the birthday way before the relay.
   * Whether our NAT and the peer's rewrite ports decides who opens sockets and who sprays.
   */
  private startBirthday(owner: PathOwner, now: number): boolean {
    if (!this.birthday.mayStart(owner, now)) return false
    const reflexive = this.config.supernodes.relayLink(now)?.reflexive
    const mine = reflexive ? reflexive.port !== this.config.transport.local().port : null
    const { reflexive: theirEndpoint, localPort } = owner.path
    const theirs = theirEndpoint !== null && localPort !== null ? theirEndpoint.port !== localPort : null
    const role = birthdayRole(mine, theirs)
    if (role === null) return false
    const log = this.config.log
    log.info(`peer ${formatEdgeId(owner.edgeId)}: no direct path yet; trying birthday punching (${role.open ? 'opening ports' : ''}${role.open && role.spray ? ' and ' : ''}${role.spray ? 'spraying' : ''})`)
    this.birthday.start(owner, now, role).catch((err: unknown) => log.warn(`birthday punching: ${(err as Error).message}`))
    return true
  }
}

/** "host:port" of a peer's direct endpoint, or null. */
export function endpointText(owner: PathOwner): string | null {
  const endpoint = owner.path.endpoint
  return endpoint ? formatHostPort({ host: endpoint.address, port: endpoint.port }) : null
}
