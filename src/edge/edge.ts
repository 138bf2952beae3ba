// An edge: one member of a virtual LAN. It registers with every supernode it is given, carries
// Ethernet frames between its TAP device and its peers (sealed end to end, direct when hole
// punching succeeds, through the supernode until then), and serves /status and /metrics.
// The data path is split by direction: inside.ts (TAP → network), outside.ts (network → TAP).
import { EventEmitter } from 'node:events'
import { connect, type Socket } from 'node:net'
import { formatFingerprint, type Identity } from '../crypto/identity.js'
import type { CommunityKeys } from '../crypto/keys.js'
import { silentLogger, type Logger } from '../log/logger.js'
import { MgmtServer, type MgmtListen } from '../mgmt/server.js'
import { formatHostPort, type HostPort } from '../net/address.js'
import { BatchUdpTransport, type BatchUdpStats } from '../net/batch-udp-transport.js'
import { bindUdp, type SocketKind } from '../net/bind.js'
import { DgramTransport } from '../net/dgram-transport.js'
import type { Transport } from '../net/transport.js'
import { WsCarrier, type CarrierDrop, type StreamCarrier } from '../net/ws-carrier.js'
import { connectWebSocket, type ProxyConfig } from '../net/ws-connect.js'
import type { TapDevice } from '../tap/device.js'
import { systemClock, type Clock, type TimerHandle } from '../time/clock.js'
import { deadline } from '../time/deadline.js'
import {
  encodeGratuitousArp,
  endpointOf,
  formatEdgeId,
  formatMac,
  ipFamily,
  ipv4Value,
  isUnicastMac,
  MAX_CANDIDATES,
  EnrollKind,
  PacketType,
  type ControlPacket,
  type OverlayAddress,
  type RegisterAck,
  type Role,
  writeIPv4,
} from '../wire/index.js'
import type { AllowRules } from './allow-filter.js'
import type { OpenTransport } from './birthday.js'
import { Credentials, type CertificateStatus } from './credentials.js'
import { EnrollmentDesk, type EnrollmentConfig, type EnrollmentReason } from './enrollment.js'
import { edgeCounters, edgeMetrics, type EdgeCounters } from './counters.js'
import { DataPath, endpointText } from './data-path.js'
import type { PathOwner, PathState } from './path.js'
import { checkLocalAddresses, type LocalAddress } from './own-subnets.js'
import { edgeDropCounters, type EdgeReason } from './reasons.js'
import type { SessionDropReason } from '../crypto/session-table.js'
import type { PairSessionState, SessionLimits } from '../crypto/noise-session.js'
import { CERTIFICATE_REFUSED, Registration, type RevocationCounts } from './registration.js'
import { SupernodeLink, UDP_RETRY_ON_FALLBACK_MS, type LinkHost, type LinkTarget, type LinkTransport } from './supernode-link.js'
import { Supernodes } from './supernodes.js'
import { StreamHub } from './streams/hub.js'
import type { ReceiptDeliveryResult, ReceiptSender } from './receipt-transfer.js'

export { DEFAULT_EDGE_MGMT } from './defaults.js'
/** The edge's scheduler tick: punch rounds, keepalives and retries are checked this often. */
export const TICK_MS = 50

export interface EdgeConfig {
  /** the community's name (shared secret; an authority's community is named by its certificate) */
  community?: string
  /** the community secret (a generated key or a passphrase); or give `keys` already derived */
  key?: string
  keys?: CommunityKeys
  /** this edge's identity key (--identity): the same place in the community after a restart; a new one each start when absent. The edge destroys it */
  identity?: Identity
  /** authority mode (--cert): the certificate an authority issued for `identity`; no key then */
  certificate?: Buffer
  /** credentials made already (the CLI makes them before the TAP, which takes their MAC); the edge destroys them when it stops */
  credentials?: Credentials
  /** revocations to hand every supernode (--revocations), again after each registration; setRevocations replaces them */
  revocations?: Buffer[]
  /** each supernode: host, UDP port(s) tried all at once, and its fallback URL (wss://HOST/overlan) if any */
  supernodes: LinkTarget[]
  /** how fallbacks are opened: a private CA (PEM) instead of the system's, the proxy for a URL */
  fallback?: FallbackOptions
  /** this edge's overlay address; null: ask the supernode for one */
  overlay: OverlayAddress | null
  /** shown to peers and in consoles (e.g. a technician's name) */
  name?: string
  /** the role a self-issued certificate states (the assistance device's edge: device); member when not given */
  role?: Role
  relayOnly?: boolean
  /**
   * This host's own LAN addresses with their prefixes. The first four are offered to peers as direct
   * candidates (with our UDP port); and a peer's LAN candidate is probed only inside one of these
   * subnets (none given: never).
   */
  localAddresses?: LocalAddress[]
  /** UDP bind; port 0 = any */
  bind?: { address?: string; port: number }
  /** management HTTP (GET /status, /metrics): where it listens and the Host names it answers to */
  mgmt?: MgmtListen | null
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
  /** pair sessions' rekey times instead of WireGuard's (--rekey-after: labs watch rekeys happen) */
  sessionLimits?: Partial<SessionLimits>
  /** a device that admits technicians (consent, enrollment.ts): the join token's secret and who decides */
  enrollment?: EnrollmentConfig
  /**
   * Userspace streams (streams/hub.ts): whether members' streams are accepted (to this host's own
   * overlay address, to the ports --allow lists). Default: no, because they reach the host's
   * services through loopback, past firewall rules on the TAP (`overlan edge --accept-streams`; the
   * assistance service's device edge accepts them under the session's rules).
   * `connect` replaces how the connection to a port is made (tests: to a loopback server).
   */
  streams?: { accept: boolean; connect?: (port: number) => Socket | null }
}

export interface FallbackOptions {
  ca?: string | Buffer
  /** the HTTP CONNECT proxy for a fallback URL, or null (the CLI reads HTTPS_PROXY and NO_PROXY) */
  proxy?: (url: URL) => ProxyConfig | null
  timeoutMs?: number
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
  /** opens a supernode's fallback stream (default: a WebSocket by src/net/ws-connect.ts) */
  openFallback?: OpenFallback
  /** which UDP sockets to open: the batched addon where built (default), or node:dgram (a userspace edge: no Linux-only call) */
  socketKind?: SocketKind
}

/** Opens a fallback stream to a URL; `drop` counts what its send queue drops. */
export type OpenFallback = (url: URL, drop: (reason: CarrierDrop) => void) => Promise<StreamCarrier>

export interface EdgeStatus {
  edgeId: string
  /** this edge's member certificate: who the peers and supernodes see (fingerprint as revocations name it) */
  certificate: CertificateStatus
  name: string
  mac: string
  ip: string | null
  tap: string
  relayOnly: boolean
  expiresAt: string | null
  /** the --allow rules in force, or null */
  allow: AllowRules | null
  supernodes: {
    /** as -l gave it (host:port, or host:port,port when it lists several) */
    address: string
    registered: boolean
    /** the carrier of the registration now (or of the attempt): udp, or the fallback's WebSocket over TLS (tls) or plain (ws) */
    transport: LinkTransport
    /** the UDP port that answered, or the fallback's TCP port */
    port: number
    fallback: string | null
    rttMs: number | null
    publicEndpoint: string | null
    /** the supernode's clock minus ours at the last registration (ms; null before one): certificates are judged by its clock */
    clockSkewMs: number | null
  }[]
  peers: {
    id: string
    mac: string
    ip: string | null
    /** the certificate's: its display name, fingerprint (as revocations name it), role and end (ISO time) */
    name: string
    fingerprint: string
    role: string
    notAfter: string
    path: PathState
    /** the pair session: its state, rekeys since it started, handshakes completed (ours and theirs) */
    session: { state: PairSessionState; rekeys: number; handshakes: number }
    /** what the frames travel over: `udp` for a direct path; for the relay, the relaying supernode's transport (null while none is registered) */
    via: LinkTransport | null
    /** the relaying supernode (path relay, punching or suspect), or null */
    relay: string | null
    endpoint: string | null
    rttMs: number | null
    lastSeenMs: number
    rxPackets: number
    txPackets: number
    rxBytes: number
    txBytes: number
  }[]
  /** revocations: from --revocations and sent to the supernodes (announced), taken from supernodes (received), refused from them */
  revocations: RevocationCounts
  /** a device admitting technicians: exchanges running, requests put to the decider, refusals by reason (absent otherwise) */
  enrollment?: { exchanges: number; asked: number; drops: Record<EnrollmentReason, number> } | null
  counters: EdgeCounters
  /** the edge's drops and its pair sessions' (src/crypto/session-table.ts), by reason */
  drops: Record<EdgeReason | SessionDropReason, number>
  /** userspace streams open now and their counters (streams/hub.ts) */
  streams?: ReturnType<StreamHub['status']>
  /** the data socket: the batched addon's counters (BatchUdpStats: gso, gro, groRuns …), node:dgram, or null (a test's own) */
  socket?: ({ kind: 'batch' } & BatchUdpStats) | { kind: 'dgram' } | null
}

export interface EdgeEvents {
  /** registered (or registered again) with the supernode given as host:port */
  registered: [supernode: string]
  /** the supernode assigned this edge its overlay address */
  overlay: [overlay: OverlayAddress]
  path: [peerId: number, path: PathState]
  stopped: [why: string]
  /** a whole end-of-session receipt a peer handed us (not checked yet: check it is signed by `from.publicKey`) */
  receipt: [text: Buffer, from: ReceiptSender]
}

export class Edge extends EventEmitter<EdgeEvents> {
  private readonly drops = edgeDropCounters()
  private readonly counters = edgeCounters()
  private readonly supernodes: Supernodes
  /** pair sessions, peers, both directions of the data path (data-path.ts) */
  private readonly data: DataPath
  /** userspace streams over the pair sessions (SESSION_DATA kind 4): 'stream' events for the audit */
  readonly streams: StreamHub
  readonly relayOnly: boolean
  overlay: OverlayAddress | null
  private readonly registration: Registration
  /** technicians' enrollment exchanges, when this edge is a device that admits them */
  private readonly enrollment: EnrollmentDesk | null
  /** whether the overlay address was announced (gratuitous ARP) after the first registration */
  private announced = false
  private ticker: TimerHandle | null = null
  private expiry: TimerHandle | null = null
  private mgmt: MgmtServer | null = null
  private stopping: Promise<void> | null = null

  private constructor(
    readonly config: EdgeConfig,
    private readonly credentials: Credentials,
    readonly tap: TapDevice,
    private readonly transport: Transport,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly hostStatus: () => Record<string, unknown>,
    openTransport: OpenTransport,
    openFallback: OpenFallback,
  ) {
    super()
    this.relayOnly = config.relayOnly ?? false
    this.overlay = credentials.certificate.ipv4
    const host: LinkHost = {
      now: () => this.clock.now(),
      send: (buf, address, port) => this.transport.send(buf, 0, buf.length, port, address),
      announcement: () => this.registration.announcement(),
      registered: (link, ack, moved) => this.onRegistered(link, ack, moved),
      certificateRefused: (link, code) => this.registration.certificateRefused(link, code),
      oldProtocol: (link) => this.registration.oldProtocol(link),
      lost: (link, why) => this.log.warn(`lost supernode ${link.label}: ${why}; registering again`),
      refused: (link, why) => this.log.warn(`supernode ${link.label} refused registration: ${why}`),
      peerGone: (edgeId) => this.data.directory.onPeerGone(edgeId),
      unprovenError: () => this.drops['unproven-error']++,
      openFallback: async (url) => {
        const stream = await openFallback(url, (reason) => this.drops[reason]++)
        this.counters.fallbackConnects++
        stream.onDatagram((msg, address, port) => this.data.inbound.receive(msg, address, port, stream))
        return stream
      },
      fallbackDown: (link, why, stream) => this.fallbackDown(link, why, stream),
      carrierChanged: (link, from, to) => this.carrierChanged(link, from, to),
    }
    this.supernodes = new Supernodes(
      config.supernodes.map((target) => new SupernodeLink(target, host)),
      credentials.edgeId,
      this.counters,
    )
    this.data = new DataPath({
      credentials,
      transport,
      tap,
      clock,
      log,
      supernodes: this.supernodes,
      counters: this.counters,
      drops: this.drops,
      relayOnly: this.relayOnly,
      localAddresses: config.localAddresses,
      allow: config.allow,
      openTransport,
      birthdayPorts: config.birthdayPorts,
      sessionLimits: config.sessionLimits,
      linkControl: (packet, address, port, via) => this.linkControl(packet, address, port, via),
      oldProtocol: (msg, address, port, via) => this.supernodes.from(address, port, via)?.onOldProtocol(msg) ?? false,
      revocation: (packet) => this.registration.revocation(Buffer.from(packet.revocation.bytes)),
      pathChanged: (owner) => this.pathChanged(owner),
      streams: { receive: (peer, payload) => this.streams.receive(peer, payload), peerRemoved: (peer) => this.streams.peerRemoved(peer) },
      receiptReceived: (text, from) => this.emit('receipt', text, from),
    })
    this.streams = this.streamHub(config)
    this.registration = new Registration({
      credentials,
      now: () => clock.now(),
      candidates: () => {
        const port = transport.local().port
        return (config.localAddresses ?? []).slice(0, MAX_CANDIDATES).map((a) => endpointOf(a.address, port))
      },
      links: () => this.supernodes.links,
      log,
      addressAssigned: (overlay) => this.emit('overlay', overlay),
      stop: (why) => void this.stop(why),
    })
    if (config.revocations !== undefined) this.registration.setRevocations(config.revocations)
    this.enrollment =
      config.enrollment === undefined
        ? null
        : new EnrollmentDesk({ identity: credentials.identity, communityId: credentials.communityId, deviceId: credentials.edgeId, config: config.enrollment, now: () => clock.now() })
    credentials.onRevocation(() => this.data.directory.checkCertificates(this.clock.now()))
    credentials.onCertificateChanged((certificate) => {
      this.overlay = certificate.ipv4
      // the data path hands peers the new bytes; registration.ts registers them with every supernode
      this.data.ownCertificate(certificate, certificate.bytes)
    })
  }

  static async start(config: EdgeConfig, deps: EdgeDeps): Promise<Edge> {
    if (config.supernodes.length === 0) throw new RangeError('give at least one supernode')
    if (!isUnicastMac(deps.tap.mac)) throw new RangeError(`the TAP device's MAC must be unicast: ${formatMac(deps.tap.mac)}`)
    checkLocalAddresses(config.localAddresses ?? [])
    const clock = deps.clock ?? systemClock
    const credentials =
      config.credentials ??
      (await Credentials.create({
        clock,
        identity: config.identity,
        community: config.community,
        key: config.key,
        keys: config.keys,
        certificate: config.certificate,
        mac: deps.tap.mac,
        ipv4: config.overlay,
        name: config.name,
        role: config.role,
      }))
    // IPv4 unless a supernode is IPv6: libuv sets only the IPv6 hop limit on a dual-stack socket,
    // and the punching TTL ladder must apply to IPv4 datagrams
    const bindAddress = config.bind?.address ?? (config.supernodes.some((s) => ipFamily(s.host) === 6) ? '::' : '0.0.0.0')
    const transport = deps.transport ?? (await bindUdp({ address: bindAddress, port: config.bind?.port ?? 0, gro: true }, deps.socketKind))
    // birthday punching opens 256 sockets for a few seconds: dgram's, which hold no send ring
    const openTransport = deps.openTransport ?? (() => bindUdp({ address: bindAddress, port: 0 }, 'dgram'))
    const openFallback = deps.openFallback ?? ((url: URL, drop: (reason: CarrierDrop) => void) => openWebSocketCarrier(url, config.fallback ?? {}, drop))
    const edge = new Edge(config, credentials, deps.tap, transport, clock, deps.logger ?? silentLogger, deps.hostStatus ?? (() => ({})), openTransport, openFallback)
    transport.onDatagram(edge.data.inbound.onDatagram)
    deps.tap.onFrame(edge.data.outbound.onFrame)
    edge.data.start()
    if (config.mgmt) {
      try {
        edge.mgmt = await MgmtServer.start(config.mgmt, { status: () => edge.status(), metrics: () => edge.metrics() })
      } catch (err) {
        await edge.stop('management listener failed')
        throw new Error(`cannot listen for management on ${formatHostPort(config.mgmt)}: ${(err as Error).message}`, { cause: err })
      }
    }
    // an authority's certificate cannot be renewed here: the edge ends with it (a self-issued one is renewed before)
    const certificateEnd = credentials.selfIssued ? Infinity : credentials.certificate.notAfter * 1000
    const end = Math.min(config.expiresAt ?? Infinity, certificateEnd)
    if (end !== Infinity) {
      const certificateEnds = end === certificateEnd && end !== config.expiresAt
      edge.expiry = deadline(edge.clock, end, () => {
        if (certificateEnds) edge.log.error(`the certificate expired at ${new Date(end).toISOString()}: the edge stops; ask the authority for a new one`)
        void edge.stop(certificateEnds ? CERTIFICATE_REFUSED : 'expired')
      })
    }
    edge.ticker = edge.clock.every(TICK_MS, () => edge.tick())
    edge.log.info(`edge ${formatEdgeId(edge.edgeId)} on ${deps.tap.name} (mac ${formatMac(deps.tap.mac)}) using UDP port ${transport.local().port}`)
    edge.tick()
    return edge
  }

  get edgeId(): number {
    return this.credentials.edgeId
  }

  get mgmtAddress(): HostPort | null {
    return this.mgmt?.address() ?? null
  }

  /** Registers again with every supernode now, as when the edge's record changes. */
  reregister(): void {
    for (const link of this.supernodes.links) link.reregister()
  }

  /** Birthday punching's totals since the start, beyond what /status shows (for tests and benchmarks). */
  birthdayTotals(): { socketsOpened: number; probesSprayed: number } {
    return { socketsOpened: this.data.birthday.socketsOpened, probesSprayed: this.data.birthday.probesSprayed }
  }

  /** Hands an end-of-session receipt to every peer; resolves with who confirmed it, within `timeoutMs` (receipt-transfer.ts). */
  deliverReceipt(text: Buffer, timeoutMs: number): Promise<ReceiptDeliveryResult> {
    return this.data.receipts.deliver([...this.data.peers.values()], text, timeoutMs)
  }

  /** Deregisters, stops every timer, closes the socket and removes the TAP device. */
  stop(why = 'stopped'): Promise<void> {
    this.stopping ??= this.shutdown(why)
    return this.stopping
  }

  private async shutdown(why: string): Promise<void> {
    this.ticker?.cancel()
    this.expiry?.cancel()
    const deregister = this.registration.deregister()
    for (const link of this.supernodes.links) {
      if (link.registered) link.send(deregister)
    }
    // the streams' peers hear the end (ABORT) while the socket still sends
    this.streams.close()
    await this.transport.flush()
    for (const link of this.supernodes.links) {
      await link.stream?.flush()
      await link.close()
    }
    await this.mgmt?.close()
    await this.transport.close()
    await this.tap.close()
    // nothing can seal, open or sign any more: session keys, broadcast keys, enrollment keys, identity go
    await this.data.close()
    this.enrollment?.destroy()
    this.credentials.destroy()
    this.log.info(`edge ${formatEdgeId(this.edgeId)} stopped: ${why}`)
    this.emit('stopped', why)
  }

  /** A control packet from one of our supernodes, for its link. */
  private linkControl(packet: ControlPacket, address: string, port: number, via: Transport | null): void {
    const link = this.supernodes.from(address, port, via)
    if (link === undefined) return
    switch (packet.type) {
      case PacketType.Cookie:
        return link.onCookie(packet, via, port)
      case PacketType.RegisterAck:
        return link.onRegisterAck(packet, via)
      case PacketType.KeepaliveAck:
        return link.onKeepaliveAck(packet, via)
      case PacketType.Error:
        return link.onError(packet)
      case PacketType.Enroll:
        // an offer from a supernode we are registered with; answered through it
        if (this.enrollment !== null && packet.kind === EnrollKind.Offer && link.registered) return this.enrollment.onOffer(packet, (answer) => link.send(answer))
        this.drops['unexpected-type']++
        return
      default:
        this.drops['unexpected-type']++
    }
  }

  /** The stream hub: kind-4 packets go out through the data path; accepted streams connect to our own overlay address. */
  private streamHub(config: EdgeConfig): StreamHub {
    const accept = config.streams?.accept ?? false
    const connectTo = config.streams?.connect ?? ((port: number) => (this.overlay === null ? null : connect({ host: this.overlay.address, port, allowHalfOpen: true })))
    return new StreamHub({
      clock: this.clock,
      log: this.log,
      send: (peer, packet) => this.data.outbound.stream(peer, packet),
      peerByAddress: (ipv4) => {
        for (const peer of this.data.peers.values()) if (peer.identity.certificate.ipv4?.address === ipv4) return peer
        return undefined
      },
      query: (ipv4) => {
        const address = Buffer.alloc(4)
        writeIPv4(ipv4, address, 0)
        this.supernodes.query({ kind: 'ipv4', address }, this.clock.now())
      },
      acceptor: accept ? { allow: config.allow ?? null, connect: connectTo } : null,
    })
  }

  private pathChanged(owner: PathOwner): void {
    const endpoint = owner.path.endpoint
    const where = endpoint ? ` at ${formatHostPort({ host: endpoint.address, port: endpoint.port })}` : ''
    this.log.info(`peer ${formatEdgeId(owner.edgeId)} path ${owner.path.state}${where}`)
    this.emit('path', owner.edgeId, owner.path.state)
  }

  // ---- registration --------------------------------------------------------------------------

  /**
   * The revocations of --revocations, read again when the file changes: each goes to every
   * supernode now and after each registration (registration.ts).
   */
  setRevocations(revocations: readonly Buffer[]): void {
    this.registration.setRevocations(revocations)
  }

  private onRegistered(link: SupernodeLink, ack: RegisterAck, moved: boolean): void {
    this.log.info(`registered with supernode ${link.label}: public address ${formatHostPort({ host: ack.reflexive.address, port: ack.reflexive.port })}${ack.overlay ? `, overlay ${ack.overlay.address}/${ack.overlay.prefix}` : ''}`)
    // our NAT gave us a new public port (its conntrack was flushed, say): the peers we reach
    // directly still send to the old one. A query for each makes the supernode send it a
    // PUNCH_REQUEST with where we are now, and both sides punch again.
    if (moved && !this.relayOnly) this.data.directory.onWeMoved()
    // n2n-style auto-IP: a certificate without IPv4 is re-issued with the address given
    // (onCertificateChanged: the data path takes it) and registered again everywhere
    this.registration.registered(link, ack)
    this.emit('registered', link.label)
    this.data.outbound.releaseHeld()
    if (this.config.announce === true && !this.announced && this.overlay !== null) {
      // a peer's kernel may still map our address to the MAC of this device's previous run (killed,
      // restarted with a new random MAC) and send there until its neighbour entry expires, a minute
      // or so: announce the address now, as Linux does on link-up with arp_notify
      this.announced = true
      this.data.outbound.flood(encodeGratuitousArp(this.tap.mac, ipv4Value(this.overlay.address)))
    }
  }

  /** The fallback failed to open (stream null), or closed: counted and logged; the link dials again by itself. */
  private fallbackDown(link: SupernodeLink, why: string, stream: StreamCarrier | null): void {
    if (stream === null) {
      this.counters.fallbackFailures++
      this.log.warn(`supernode ${link.label}: fallback ${link.fallback?.href ?? ''} failed: ${why}`)
      return
    }
    // the sealed sender counted sends through it: the count goes with it
    this.data.sender.forget(stream)
    this.counters.fallbackCloses++
    this.log.info(`supernode ${link.label}: fallback ${stream.url} closed: ${why}`)
  }

  private carrierChanged(link: SupernodeLink, from: LinkTransport | null, to: LinkTransport): void {
    if (to === 'udp') {
      this.counters.udpReturns++
      this.log.info(`supernode ${link.label}: UDP works again; registered over UDP port ${link.port} instead of ${from ?? 'the fallback'}`)
      if (!this.relayOnly) this.data.directory.onUdpReturned()
    } else {
      this.counters.fallbackSwitches++
      this.log.warn(`supernode ${link.label}: no UDP answer; registered over ${link.fallback?.href ?? 'the fallback'} (${to}); UDP is tried again every ${UDP_RETRY_ON_FALLBACK_MS / 1000} s`)
    }
  }

  // ---- the scheduler -------------------------------------------------------------------------

  /** Each TICK_MS: what is due for each supernode link, then each peer's timers. */
  private tick(): void {
    const now = this.clock.now()
    this.supernodes.tick(now)
    this.data.tick(now)
    this.enrollment?.tick(now)
  }

  // ---- management ----------------------------------------------------------------------------

  status(): EdgeStatus {
    const now = this.clock.now()
    const relay = this.supernodes.relayLink(now)
    return {
      edgeId: formatEdgeId(this.edgeId),
      certificate: this.credentials.status(),
      name: this.credentials.certificate.name,
      mac: formatMac(this.tap.mac),
      ip: this.overlay ? `${this.overlay.address}/${this.overlay.prefix}` : null,
      tap: this.tap.name,
      relayOnly: this.relayOnly,
      expiresAt: this.config.expiresAt !== undefined ? new Date(this.config.expiresAt).toISOString() : null,
      allow: this.data.allow?.rules ?? null,
      supernodes: this.supernodes.links.map((l) => ({
        address: l.label,
        registered: l.registered,
        transport: l.transport,
        port: l.portInUse,
        fallback: l.fallback?.href ?? null,
        rttMs: l.rttMs,
        publicEndpoint: l.reflexive ? formatHostPort({ host: l.reflexive.address, port: l.reflexive.port }) : null,
        clockSkewMs: l.clockSkewMs,
      })),
      peers: [...this.data.peers.values()].map((p) => {
        const direct = p.path.isDirect && p.path.endpoint !== null
        const c = p.identity.certificate
        const session = p.session
        return {
          id: formatEdgeId(p.edgeId),
          mac: formatMac(c.mac),
          ip: c.ipv4?.address ?? null,
          name: c.name,
          fingerprint: formatFingerprint(p.identity.fingerprint),
          role: c.role,
          notAfter: new Date(c.notAfter * 1000).toISOString(),
          path: p.path.state,
          session: { state: session.state, rekeys: session.counters.rekeys, handshakes: session.counters.handshakesCompleted + session.counters.initiationsAnswered },
          via: direct ? 'udp' : (relay?.transport ?? null),
          relay: direct ? null : (relay?.label ?? null),
          endpoint: endpointText(p),
          rttMs: p.path.rttMs,
          lastSeenMs: now - p.lastSeen,
          rxPackets: p.rxPackets,
          txPackets: p.txPackets,
          rxBytes: p.rxBytes,
          txBytes: p.txBytes,
        }
      }),
      revocations: { ...this.registration.revocationCounts },
      ...(this.enrollment === null ? {} : { enrollment: { exchanges: this.enrollment.size, asked: this.enrollment.asked, drops: { ...this.enrollment.drops } } }),
      counters: { ...this.counters },
      drops: this.allDrops(),
      streams: this.streams.status(),
      socket: socketStatus(this.transport),
      ...this.hostStatus(),
    }
  }

  /** The edge's drops and its pair sessions', one table by reason (a reason both count is summed). */
  private allDrops(): Record<EdgeReason | SessionDropReason, number> {
    const drops = { ...this.drops } as Record<EdgeReason | SessionDropReason, number>
    const session = this.data.sessionDrops
    for (const reason of Object.keys(session) as SessionDropReason[]) drops[reason] = (drops[reason] ?? 0) + session[reason]
    return drops
  }

  metrics(): string {
    let direct = 0
    const peers = this.data.peers
    for (const p of peers.values()) if (p.path.isDirect) direct++
    return edgeMetrics(this.counters, this.allDrops(), { supernodesRegistered: this.supernodes.registeredCount, peersDirect: direct, peersOther: peers.size - direct })
  }
}
/** The default fallback: a WebSocket (ws-connect.ts) as a bounded carrier (ws-carrier.ts). */
export async function openWebSocketCarrier(url: URL, options: FallbackOptions, drop: (reason: CarrierDrop) => void): Promise<StreamCarrier> {
  const connection = await connectWebSocket({ url, ca: options.ca, proxy: options.proxy?.(url) ?? null, timeoutMs: options.timeoutMs })
  return new WsCarrier(url, connection, drop)
}

/**
 * The data socket, for /status: the batched addon's counters (whether UDP GSO and GRO are at work,
 * datagrams cut or refused), or node:dgram where the addon was not built; null for a socket of
 * another kind (tests give the edge their own).
 */
function socketStatus(transport: Transport): EdgeStatus['socket'] {
  if (transport instanceof BatchUdpTransport) return { kind: 'batch', ...transport.stats() }
  return transport instanceof DgramTransport ? { kind: 'dgram' } : null
}
