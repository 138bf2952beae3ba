// An edge: one member of a virtual LAN. It registers with every supernode it is given, carries
// Ethernet frames between its TAP device and its peers (sealed end to end, direct when hole
// punching succeeds, through the supernode until then), and serves /status and /metrics.
// The data path is split by direction: inside.ts (TAP → network), outside.ts (network → TAP).
import { EventEmitter } from 'node:events'
import { FrameCipher } from '../crypto/aead.js'
import { deriveCommunityKeys, generateEdgeIdentity, type CommunityKeys, type EdgeIdentity } from '../crypto/keys.js'
import { signRecord, verifyRecord } from '../crypto/record.js'
import { sign } from '../crypto/sign.js'
import { silentLogger, type Logger } from '../log/logger.js'
import { MetricsText } from '../mgmt/prometheus.js'
import { MgmtServer } from '../mgmt/server.js'
import { formatHostPort, type HostPort } from '../net/address.js'
import { bindUdp } from '../net/bind.js'
import type { Transport } from '../net/transport.js'
import type { TapDevice } from '../tap/device.js'
import { systemClock, type Clock, type TimerHandle } from '../time/clock.js'
import { deadline } from '../time/deadline.js'
import {
  PacketType,
  deregisterSignedBytes,
  encodeDeregister,
  encodeGratuitousArp,
  encodePeerQuery,
  formatEdgeId,
  formatMac,
  ipFamily,
  isUnicastMac,
  type Endpoint,
  type OverlayAddress,
  type PeerInfo,
  type PeerTarget,
  type RegisterAck,
} from '../wire/index.js'
import { ipv4ToNumber } from '../supernode/auto-ip.js'
import type { EdgeCore, EdgeCounters } from './core.js'
import { AllowFilter, type AllowRules } from './allow-filter.js'
import { BIRTHDAY_PORTS, BirthdayPuncher, birthdayRole, type BirthdayRole, type OpenTransport } from './birthday.js'
import { FrameFilter } from './frame-filter.js'
import { Outbound } from './inside.js'
import { Inbound } from './outside.js'
import { hasDirectEndpoint } from './path.js'
import { PENDING_TIMEOUT_MS, PeerTable, type Peer } from './peers.js'
import { PUNCH_RETRY_MS, Puncher } from './punch.js'
import { edgeDropCounters, type EdgeReason } from './reasons.js'
import { SealedSender } from './sealed-sender.js'
import { SupernodeLink, type LinkHost } from './supernode-link.js'

export const DEFAULT_EDGE_MGMT: HostPort = { host: '127.0.0.1', port: 5644 }
/** The edge's scheduler tick: punch rounds, keepalives and retries are checked this often. */
export const TICK_MS = 50
/** A peer nobody has heard from for this long is forgotten (it is asked for again when needed). */
export const PEER_IDLE_MS = 10 * 60_000
/** Ask again for the record of a peer whose frames are waiting, this often. */
const PENDING_QUERY_MS = 1_000
/**
 * Frames from the host before any supernode has registered us (the kernel's first ARP request,
 * say) wait this long, this many, instead of being dropped: losing that ARP costs the user a
 * second (the kernel's retransmit time) on the first ping.
 */
const UNREGISTERED_HOLD_MS = 5_000
const UNREGISTERED_HOLD_FRAMES = 64

export interface EdgeConfig {
  community: string
  /** the community secret (a generated key or a passphrase); or give `keys` already derived */
  key?: string
  keys?: CommunityKeys
  supernodes: HostPort[]
  /** this edge's overlay address; null: ask the supernode for one */
  overlay: OverlayAddress | null
  /** shown to peers and in consoles (e.g. a technician's name) */
  name?: string
  relayOnly?: boolean
  /** LAN addresses of this host to offer peers as direct candidates (with our UDP port) */
  localAddresses?: string[]
  /** UDP bind; port 0 = any */
  bind?: { address?: string; port: number }
  mgmt?: HostPort | null
  /** ms since the epoch at which the edge stops by itself, whatever else happens */
  expiresAt?: number
  /** --allow: only these reach the host from the overlay (plus replies to its own connections) */
  allow?: AllowRules | null
  /**
   * Announce the overlay address with a gratuitous ARP after the first registration, as a host does
   * when an address comes up: a real host's neighbours may still hold the MAC of this device's
   * previous run (killed, restarted with a new random MAC). The CLI turns it on.
   */
  announce?: boolean
  /** the public ports birthday punching sprays (default 1024-65535; tests narrow it) */
  birthdayPorts?: { from: number; to: number }
}

export interface EdgeDeps {
  tap: TapDevice
  clock?: Clock
  logger?: Logger
  transport?: Transport
  /** facts about the host to add to /status (the CLI reports the TAP's forwarding sysctls) */
  hostStatus?: () => Record<string, unknown>
  /** opens an extra UDP socket for birthday punching (default: another one like the main socket) */
  openTransport?: OpenTransport
}

export interface EdgeStatus {
  edgeId: string
  name: string
  mac: string
  ip: string | null
  tap: string
  relayOnly: boolean
  expiresAt: string | null
  /** the --allow rules in force, or null */
  allow: AllowRules | null
  supernodes: { address: string; registered: boolean; rttMs: number | null; publicEndpoint: string | null }[]
  peers: {
    id: string
    mac: string | null
    ip: string | null
    name: string
    path: Peer['path']
    endpoint: string | null
    rttMs: number | null
    lastSeenMs: number
    rxPackets: number
    txPackets: number
    rxBytes: number
    txBytes: number
  }[]
  counters: EdgeCounters & { probesSent: number; birthdaySessions: number; birthdaySockets: number }
  drops: Record<EdgeReason, number>
}

export interface EdgeEvents {
  /** registered (or registered again) with the supernode given as host:port */
  registered: [supernode: string]
  /** the supernode assigned this edge its overlay address */
  overlay: [overlay: OverlayAddress]
  path: [peerId: number, path: Peer['path']]
  stopped: [why: string]
}

export class Edge extends EventEmitter<EdgeEvents> implements EdgeCore {
  readonly peers = new PeerTable()
  readonly drops = edgeDropCounters()
  readonly counters: EdgeCounters = { tapFramesIn: 0, tapFramesOut: 0, packetsIn: 0, bytesIn: 0, relayedOut: 0, directOut: 0, peerQueries: 0 }
  readonly filter: FrameFilter
  readonly allow: AllowFilter | null
  readonly sender: SealedSender
  readonly puncher: Puncher
  readonly birthday: BirthdayPuncher
  readonly links: SupernodeLink[]
  readonly relayOnly: boolean
  overlay: OverlayAddress | null
  private readonly inbound: Inbound
  private readonly outbound: Outbound
  /** frames for the relay that came before the first registration (copies: TAP buffers are reused) */
  private held: { destId: number; frame: Buffer; at: number }[] = []
  private lastRecordTimestamp = 0
  /** whether the overlay address was announced (gratuitous ARP) after the first registration */
  private announced = false
  private ticker: TimerHandle | null = null
  private expiry: TimerHandle | null = null
  private mgmt: MgmtServer | null = null
  private stopping: Promise<void> | null = null

  private constructor(
    readonly config: EdgeConfig,
    private readonly keys: CommunityKeys,
    private readonly identity: EdgeIdentity,
    readonly tap: TapDevice,
    private readonly transport: Transport,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly hostStatus: () => Record<string, unknown>,
    openTransport: OpenTransport,
  ) {
    super()
    this.relayOnly = config.relayOnly ?? false
    this.overlay = config.overlay
    const cipher = new FrameCipher(keys.dataKey)
    this.filter = new FrameFilter(tap.mac)
    this.allow = config.allow ? new AllowFilter(config.allow) : null
    if (this.overlay !== null) this.filter.setIpv4(ipv4ToNumber(this.overlay.address), this.overlay.prefix)
    this.sender = new SealedSender(transport, cipher, identity.edgeId)
    this.puncher = new Puncher(this.sender)
    this.inbound = new Inbound(this, cipher)
    this.birthday = new BirthdayPuncher(
      this.sender,
      openTransport,
      (socket) => socket.onDatagram((msg, address, port) => this.inbound.receive(msg, address, port, socket)),
      config.birthdayPorts ?? BIRTHDAY_PORTS,
    )
    this.outbound = new Outbound(this)
    const host: LinkHost = {
      now: () => this.clock.now(),
      send: (buf, address, port) => this.transport.send(buf, 0, buf.length, port, address),
      record: () => this.record(),
      registered: (link, ack, moved) => this.onRegistered(link, ack, moved),
      lost: (link, why) => this.log.warn(`lost supernode ${link.label}: ${why}; registering again`),
      refused: (link, why) => this.log.warn(`supernode ${link.label} refused registration: ${why}`),
      peerGone: (edgeId) => this.forgetPeer(edgeId),
    }
    this.links = config.supernodes.map((target) => new SupernodeLink(target, host))
  }

  static async start(config: EdgeConfig, deps: EdgeDeps): Promise<Edge> {
    if (config.supernodes.length === 0) throw new RangeError('give at least one supernode')
    if (!isUnicastMac(deps.tap.mac)) throw new RangeError(`the TAP device's MAC must be unicast: ${formatMac(deps.tap.mac)}`)
    const keys = config.keys ?? (await deriveCommunityKeys(config.community, config.key ?? ''))
    // IPv4 unless a supernode is IPv6: libuv sets only the IPv6 hop limit on a dual-stack socket,
    // and the punching TTL ladder must apply to IPv4 datagrams
    const bindAddress = config.bind?.address ?? (config.supernodes.some((s) => ipFamily(s.host) === 6) ? '::' : '0.0.0.0')
    const transport = deps.transport ?? (await bindUdp({ address: bindAddress, port: config.bind?.port ?? 0 }))
    // birthday punching opens 256 sockets for a few seconds: dgram's, which hold no send ring
    const openTransport = deps.openTransport ?? (() => bindUdp({ address: bindAddress, port: 0 }, 'dgram'))
    const edge = new Edge(config, keys, generateEdgeIdentity(), deps.tap, transport, deps.clock ?? systemClock, deps.logger ?? silentLogger, deps.hostStatus ?? (() => ({})), openTransport)
    transport.onDatagram(edge.inbound.onDatagram)
    deps.tap.onFrame(edge.outbound.onFrame)
    if (config.mgmt) {
      try {
        edge.mgmt = await MgmtServer.start(config.mgmt, { status: () => edge.status(), metrics: () => edge.metrics() })
      } catch (err) {
        await edge.stop('management listener failed')
        throw new Error(`cannot listen for management on ${formatHostPort(config.mgmt)}: ${(err as Error).message}`, { cause: err })
      }
    }
    if (config.expiresAt !== undefined) {
      edge.expiry = deadline(edge.clock, config.expiresAt, () => void edge.stop('expired'))
    }
    edge.ticker = edge.clock.every(TICK_MS, () => edge.tick())
    edge.log.info(`edge ${formatEdgeId(edge.edgeId)} on ${deps.tap.name} (mac ${formatMac(deps.tap.mac)}) using UDP port ${transport.local().port}`)
    edge.tick()
    return edge
  }

  get edgeId(): number {
    return this.identity.edgeId
  }

  get mgmtAddress(): HostPort | null {
    return this.mgmt?.address() ?? null
  }

  now(): number {
    return this.clock.now()
  }

  /** Deregisters, stops every timer, closes the socket and removes the TAP device. */
  stop(why = 'stopped'): Promise<void> {
    this.stopping ??= this.shutdown(why)
    return this.stopping
  }

  private async shutdown(why: string): Promise<void> {
    this.ticker?.cancel()
    this.expiry?.cancel()
    const timestamp = Math.max(this.clock.now(), this.lastRecordTimestamp + 1)
    const signature = sign('deregister', deregisterSignedBytes(this.edgeId, timestamp), this.identity.secretKey)
    for (const link of this.links) {
      if (link.registered && link.address !== null) this.transport.send(encodeDeregister(this.edgeId, timestamp, signature), 0, 84, link.port, link.address)
    }
    await this.transport.flush()
    await this.birthday.closeAll()
    await this.mgmt?.close()
    await this.transport.close()
    await this.tap.close()
    this.log.info(`edge ${formatEdgeId(this.edgeId)} stopped: ${why}`)
    this.emit('stopped', why)
  }

  // ---- EdgeCore: what both directions of the data path use ---------------------------------

  relayLink(): SupernodeLink | undefined {
    // the first answering supernode in the order given, so that every member picks the same one;
    // one that stopped answering is skipped at once, before its registration counts as lost
    // (a plain loop: this runs per relayed frame, and a closure per call would be garbage per frame)
    const now = this.clock.now()
    let fallback: SupernodeLink | undefined
    for (const link of this.links) {
      if (link.healthy(now)) return link
      if (fallback === undefined && link.registered) fallback = link
    }
    return fallback
  }

  relay(destId: number, frame: Buffer): void {
    const link = this.relayLink()
    if (link === undefined || link.address === null) {
      if (this.held.length < UNREGISTERED_HOLD_FRAMES) this.held.push({ destId, frame: Buffer.from(frame), at: this.clock.now() })
      else this.drops['no-supernode']++
      return
    }
    const result = this.sender.send(PacketType.Relay, destId, frame, link.address, link.port)
    if (result === 'sent') this.counters.relayedOut++
    else this.drops[result]++
  }

  sendDirect(peer: Peer, frame: Buffer): void {
    const direct = peer.direct!
    const result = this.sender.send(PacketType.Data, peer.edgeId, frame, direct.address, direct.port, 0, peer.directVia)
    if (result === 'sent') this.counters.directOut++
    else this.drops[result]++
  }

  queryPeer(target: PeerTarget): void {
    const link = this.relayLink()
    if (link === undefined || link.address === null) return
    this.counters.peerQueries++
    const query = encodePeerQuery(this.edgeId, target)
    this.transport.send(query, 0, query.length, link.port, link.address)
  }

  linkFrom(address: string, port: number): SupernodeLink | undefined {
    for (const link of this.links) if (link.isFrom(address, port)) return link
    return undefined
  }

  onPeerInfo(packet: PeerInfo): void {
    const verdict = verifyRecord(packet.record, this.keys.signPublicKey)
    if (!verdict.ok) {
      this.drops['bad-record']++
      return
    }
    if (verdict.edgeId === this.edgeId) return
    const now = this.clock.now()
    const peer = this.peers.getOrCreate(verdict.edgeId, now)
    if (peer === undefined) {
      this.drops['peer-table-full']++
      return
    }
    const isNew = !peer.verified
    peer.verified = true
    peer.name = packet.record.name
    peer.overlay = packet.overlay ?? packet.record.overlay
    this.peers.bindMac(peer, packet.record.mac)
    peer.reflexive = packet.reflexive
    peer.localPort = packet.record.candidates[0]?.port ?? null
    peer.addCandidate(packet.reflexive)
    for (const candidate of packet.record.candidates) peer.addCandidate(candidate)
    if (isNew) this.log.info(`peer ${formatEdgeId(peer.edgeId)} ${peer.name ? `"${peer.name}" ` : ''}mac ${formatMac(packet.record.mac)} ip ${peer.overlay?.address ?? '-'} at ${formatHostPort({ host: packet.reflexive.address, port: packet.reflexive.port })}`)
    for (const frame of peer.pending) this.inbound.deliver(peer, frame, frame.length)
    peer.pending = []
    if (!this.relayOnly && peer.path !== 'direct') {
      if (peer.move('peer-info')) this.pathChanged(peer)
      this.puncher.start(peer, now)
    }
  }

  /**
   * A supernode says a peer is gone. Unless a direct path still works, forget it: its MAC becomes
   * unknown again, so the next frame is flooded and asked for, and finds the device if it came
   * back under a new edge ID.
   */
  private forgetPeer(edgeId: number): void {
    const peer = this.peers.get(edgeId)
    if (peer === undefined || peer.path === 'direct') return
    this.log.info(`peer ${formatEdgeId(edgeId)} is gone (the supernode no longer knows it)`)
    this.birthday.release(peer)
    this.peers.remove(peer)
  }

  pathChanged(peer: Peer): void {
    const where = peer.direct && hasDirectEndpoint(peer.path) ? ` at ${formatHostPort({ host: peer.direct.address, port: peer.direct.port })}` : ''
    this.log.info(`peer ${formatEdgeId(peer.edgeId)} path ${peer.path}${where}`)
    this.emit('path', peer.edgeId, peer.path)
  }

  // ---- registration --------------------------------------------------------------------------

  /**
   * A record signed afresh for each registration: its newer timestamp is what lets a supernode
   * move our edge ID to a new address (our NAT moved us), while a copy of an earlier record, re-sent
   * by someone else from elsewhere, cannot (two signatures, ~40 µs, once per registration).
   */
  private record(): { bytes: Buffer; timestamp: number } {
    const timestamp = Math.max(this.clock.now(), this.lastRecordTimestamp + 1)
    this.lastRecordTimestamp = timestamp
    const port = this.transport.local().port
    const candidates: Endpoint[] = (this.config.localAddresses ?? []).slice(0, 4).map((address) => ({ family: ipFamily(address) === 6 ? 6 : 4, address, port }))
    const bytes = signRecord({ timestamp, mac: this.tap.mac, overlay: this.overlay, name: this.config.name ?? '', candidates }, this.keys, this.identity)
    return { bytes, timestamp }
  }

  private onRegistered(link: SupernodeLink, ack: RegisterAck, moved: boolean): void {
    this.log.info(`registered with supernode ${link.label}: public address ${formatHostPort({ host: ack.reflexive.address, port: ack.reflexive.port })}${ack.overlay ? `, overlay ${ack.overlay.address}/${ack.overlay.prefix}` : ''}`)
    if (moved && !this.relayOnly) {
      // our NAT gave us a new public port (its conntrack was flushed, say): the peers we reach
      // directly still send to the old one. A query for each makes the supernode send it a
      // PUNCH_REQUEST with where we are now, and both sides punch again.
      for (const peer of this.peers.byId.values()) if (peer.verified && peer.path !== 'relay') this.queryPeer({ kind: 'edge', edgeId: peer.edgeId })
    }
    if (this.overlay === null && ack.overlay !== null) {
      // n2n-style auto-IP: keep the first address given, and tell every supernode we hold it
      this.overlay = ack.overlay
      this.filter.setIpv4(ipv4ToNumber(ack.overlay.address), ack.overlay.prefix)
      for (const other of this.links) if (other !== link) other.reregister()
      this.emit('overlay', ack.overlay)
    }
    this.emit('registered', link.label)
    this.releaseHeld()
    if (this.config.announce === true && !this.announced && this.overlay !== null) {
      // a peer's kernel may still map our address to the MAC of this device's previous run (killed,
      // restarted with a new random MAC) and send there until its neighbour entry expires, a minute
      // or so: announce the address now, as Linux does on link-up with arp_notify
      this.announced = true
      this.relay(0, encodeGratuitousArp(this.tap.mac, ipv4ToNumber(this.overlay.address)))
    }
  }

  /** Sends what waited for a registration; what waited too long is dropped and counted. */
  private releaseHeld(): void {
    const held = this.held
    this.held = []
    const now = this.clock.now()
    for (const h of held) {
      if (now - h.at > UNREGISTERED_HOLD_MS) this.drops['no-supernode']++
      else this.relay(h.destId, h.frame)
    }
  }

  /** Whether our NAT and the peer's rewrite ports decides who opens sockets and who sprays. */
  private birthdayRoleFor(peer: Peer): BirthdayRole | null {
    const reflexive = this.relayLink()?.reflexive
    const mine = reflexive ? reflexive.port !== this.transport.local().port : null
    const theirs = peer.reflexive !== null && peer.localPort !== null ? peer.reflexive.port !== peer.localPort : null
    return birthdayRole(mine, theirs)
  }

  // ---- the scheduler -------------------------------------------------------------------------

  private tick(): void {
    const now = this.clock.now()
    for (const link of this.links) link.tick(now)
    for (const peer of this.peers.byId.values()) {
      let event = this.birthday.active(peer) ? (this.birthday.tick(peer, now) ? 'punch-exhausted' : null) : this.puncher.tick(peer, now)
      const role = event === 'punch-exhausted' && !this.birthday.active(peer) && this.birthday.mayStart(peer, now) ? this.birthdayRoleFor(peer) : null
      if (role !== null) {
        // ordinary probes never met: perhaps a symmetric NAT; try the birthday way before the relay
        this.log.info(`peer ${formatEdgeId(peer.edgeId)}: no direct path yet; trying birthday punching (${role.open ? 'opening ports' : ''}${role.open && role.spray ? ' and ' : ''}${role.spray ? 'spraying' : ''})`)
        this.birthday.start(peer, now, role).catch((err: unknown) => this.log.warn(`birthday punching: ${(err as Error).message}`))
        event = null
      }
      if (event !== null && peer.move(event)) {
        if (peer.path === 'relay') {
          peer.direct = null
          peer.directVia = null
          this.birthday.release(peer)
          peer.retryAt = now + PUNCH_RETRY_MS
        } else if (peer.path === 'suspect') {
          // its NAT may have moved it to another port: the supernode knows where it is now, and
          // its answer (and the peer's PUNCH_REQUEST) starts punching on both sides at once
          this.queryPeer({ kind: 'edge', edgeId: peer.edgeId })
        }
        this.pathChanged(peer)
      }
      if (peer.path === 'relay' && peer.retryAt !== 0 && now >= peer.retryAt && !this.relayOnly) {
        peer.retryAt = 0
        this.queryPeer({ kind: 'edge', edgeId: peer.edgeId })
      }
      if (!peer.verified && peer.pending.length > 0) {
        if (now - peer.pendingSince > PENDING_TIMEOUT_MS) {
          this.drops['unverified-peer'] += peer.pending.length
          peer.pending = []
        } else if (now - peer.lastQueryAt >= PENDING_QUERY_MS) {
          peer.lastQueryAt = now
          this.queryPeer({ kind: 'edge', edgeId: peer.edgeId })
        }
      }
      if (now - peer.lastSeen > PEER_IDLE_MS && peer.path !== 'direct') {
        this.birthday.release(peer)
        this.peers.remove(peer)
      }
    }
  }

  // ---- management ----------------------------------------------------------------------------

  status(): EdgeStatus {
    const now = this.clock.now()
    return {
      edgeId: formatEdgeId(this.edgeId),
      name: this.config.name ?? '',
      mac: formatMac(this.tap.mac),
      ip: this.overlay ? `${this.overlay.address}/${this.overlay.prefix}` : null,
      tap: this.tap.name,
      relayOnly: this.relayOnly,
      expiresAt: this.config.expiresAt !== undefined ? new Date(this.config.expiresAt).toISOString() : null,
      allow: this.allow?.rules ?? null,
      supernodes: this.links.map((l) => ({
        address: l.label,
        registered: l.registered,
        rttMs: l.rttMs,
        publicEndpoint: l.reflexive ? formatHostPort({ host: l.reflexive.address, port: l.reflexive.port }) : null,
      })),
      peers: [...this.peers.byId.values()].map((p) => ({
        id: formatEdgeId(p.edgeId),
        mac: p.mac ? formatMac(p.mac) : null,
        ip: p.overlay?.address ?? null,
        name: p.name,
        path: p.path,
        endpoint: hasDirectEndpoint(p.path) && p.direct ? formatHostPort({ host: p.direct.address, port: p.direct.port }) : null,
        rttMs: p.rttMs,
        lastSeenMs: now - p.lastSeen,
        rxPackets: p.rxPackets,
        txPackets: p.txPackets,
        rxBytes: p.rxBytes,
        txBytes: p.txBytes,
      })),
      counters: { ...this.counters, probesSent: this.puncher.probesSent, birthdaySessions: this.birthday.sessionsStarted, birthdaySockets: this.birthday.socketsOpen },
      drops: { ...this.drops },
      ...this.hostStatus(),
    }
  }

  metrics(): string {
    const m = new MetricsText()
    const peers = [...this.peers.byId.values()]
    m.gauge('overlan_edge_supernodes_registered', 'Supernodes this edge is registered with', this.links.filter((l) => l.registered).length)
    m.gauge('overlan_edge_peers', 'Peers by path', peers.filter((p) => p.path === 'direct').length, { path: 'direct' })
    m.gauge('overlan_edge_peers', 'Peers by path', peers.filter((p) => p.path !== 'direct').length, { path: 'relay' })
    m.counter('overlan_edge_tap_frames_in_total', 'Frames read from the TAP device', this.counters.tapFramesIn)
    m.counter('overlan_edge_tap_frames_out_total', 'Frames written to the TAP device', this.counters.tapFramesOut)
    m.counter('overlan_edge_packets_in_total', 'Datagrams received', this.counters.packetsIn)
    m.counter('overlan_edge_bytes_in_total', 'Bytes received', this.counters.bytesIn)
    m.counter('overlan_edge_relayed_out_total', 'Frames sent through the supernode', this.counters.relayedOut)
    m.counter('overlan_edge_direct_out_total', 'Frames sent straight to a peer', this.counters.directOut)
    m.counter('overlan_edge_probes_sent_total', 'Hole-punching and keepalive probes sent', this.puncher.probesSent)
    m.counter('overlan_edge_peer_queries_total', 'Peer queries sent', this.counters.peerQueries)
    m.counters('overlan_edge_dropped_total', 'Packets and frames dropped, by reason', 'reason', this.drops)
    return m.toString()
  }
}
