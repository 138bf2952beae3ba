// An edge: one member of a virtual LAN. It registers with every supernode it is given, carries
// Ethernet frames between its TAP device and its peers (sealed end to end, direct when hole
// punching succeeds, through the supernode until then), and serves /status and /metrics.
// The data path is split by direction: inside.ts (TAP → network), outside.ts (network → TAP).
import { EventEmitter } from 'node:events'
import { FrameCipher } from '../crypto/aead.js'
import type { Identity } from '../crypto/identity.js'
import type { CommunityKeys } from '../crypto/keys.js'
import { silentLogger, type Logger } from '../log/logger.js'
import { MgmtServer, type MgmtListen } from '../mgmt/server.js'
import { formatHostPort, type HostPort } from '../net/address.js'
import { bindUdp } from '../net/bind.js'
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
  type OverlayAddress,
  type RegisterAck,
} from '../wire/index.js'
import { AllowFilter, type AllowRules } from './allow-filter.js'
import { BIRTHDAY_PORTS, BirthdayPuncher, birthdayRole, type OpenTransport } from './birthday.js'
import type { EdgeCore } from './core.js'
import { Credentials, type CertificateStatus } from './credentials.js'
import { edgeCounters, edgeMetrics, type EdgeCounters } from './counters.js'
import { FrameFilter } from './frame-filter.js'
import { Outbound } from './inside.js'
import { Inbound } from './outside.js'
import type { PathActions, PathOwner, PathState } from './path.js'
import { checkLocalAddresses, OwnSubnets, type LocalAddress } from './own-subnets.js'
import { PeerDirectory } from './peer-directory.js'
import { PeerTable } from './peers.js'
import { Prober } from './punch.js'
import { edgeDropCounters, type EdgeReason } from './reasons.js'
import { SealedSender } from './sealed-sender.js'
import { CERTIFICATE_REFUSED, Registration } from './registration.js'
import { SupernodeLink, UDP_RETRY_ON_FALLBACK_MS, type LinkHost, type LinkTarget, type LinkTransport } from './supernode-link.js'
import { Supernodes } from './supernodes.js'

export const DEFAULT_EDGE_MGMT: HostPort = { host: '127.0.0.1', port: 5644 }
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
    mac: string | null
    ip: string | null
    name: string
    path: PathState
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
  counters: EdgeCounters
  drops: Record<EdgeReason, number>
}

export interface EdgeEvents {
  /** registered (or registered again) with the supernode given as host:port */
  registered: [supernode: string]
  /** the supernode assigned this edge its overlay address */
  overlay: [overlay: OverlayAddress]
  path: [peerId: number, path: PathState]
  stopped: [why: string]
}

export class Edge extends EventEmitter<EdgeEvents> {
  private readonly peers: PeerTable
  private readonly drops = edgeDropCounters()
  private readonly counters = edgeCounters()
  private readonly filter: FrameFilter
  private readonly allow: AllowFilter | null
  private readonly sender: SealedSender
  private readonly prober: Prober
  private readonly birthday: BirthdayPuncher
  private readonly supernodes: Supernodes
  private readonly directory: PeerDirectory
  private readonly inbound: Inbound
  private readonly outbound: Outbound
  readonly relayOnly: boolean
  overlay: OverlayAddress | null
  private readonly registration: Registration
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
    this.overlay = config.overlay
    const cipher = new FrameCipher(keys.dataKey)
    this.filter = new FrameFilter(tap.mac)
    this.allow = config.allow ? new AllowFilter(config.allow) : null
    if (this.overlay !== null) this.filter.setIpv4(ipv4Value(this.overlay.address), this.overlay.prefix)
    this.sender = new SealedSender(transport, cipher, identity.edgeId)
    this.prober = new Prober(this.sender, this.counters)
    this.birthday = new BirthdayPuncher(
      this.sender,
      this.counters,
      openTransport,
      (socket) => socket.onDatagram((msg, address, port) => this.inbound.receive(msg, address, port, socket)),
      config.birthdayPorts ?? BIRTHDAY_PORTS,
    )
    this.peers = new PeerTable(this.pathActions(new OwnSubnets(config.localAddresses ?? [])), this.counters, this.drops)
    const core: EdgeCore = { edgeId: identity.edgeId, relayOnly: this.relayOnly, peers: this.peers, drops: this.drops, counters: this.counters, now: () => clock.now() }
    const host: LinkHost = {
      now: () => this.clock.now(),
      send: (buf, address, port) => this.transport.send(buf, 0, buf.length, port, address),
      announcement: () => this.registration.announcement(),
      registered: (link, ack, moved) => this.onRegistered(link, ack, moved),
      certificateRefused: (link, code) => this.registration.certificateRefused(link, code),
      oldProtocol: (link) => this.registration.oldProtocol(link),
      revocation: (link, bytes) => this.registration.revocation(link, bytes),
      lost: (link, why) => this.log.warn(`lost supernode ${link.label}: ${why}; registering again`),
      refused: (link, why) => this.log.warn(`supernode ${link.label} refused registration: ${why}`),
      peerGone: (edgeId) => this.directory.onPeerGone(edgeId),
      unprovenError: () => this.drops['unproven-error']++,
      openFallback: async (url) => {
        const stream = await openFallback(url, (reason) => this.drops[reason]++)
        this.counters.fallbackConnects++
        stream.onDatagram((msg, address, port) => this.inbound.receive(msg, address, port, stream))
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
    this.registration = new Registration({
      credentials,
      now: () => clock.now(),
      candidates: () => {
        const port = transport.local().port
        return (config.localAddresses ?? []).slice(0, MAX_CANDIDATES).map((a) => endpointOf(a.address, port))
      },
      links: () => this.supernodes.links,
      log,
      addressAssigned: (overlay) => this.addressAssigned(overlay),
      stop: (why) => void this.stop(why),
    })
    if (config.revocations !== undefined) this.registration.setRevocations(config.revocations)
    this.directory = new PeerDirectory(core, keys.signPublicKey, (target) => this.supernodes.query(target, clock.now()), log)
    this.inbound = new Inbound(core, { cipher, sender: this.sender, filter: this.filter, allow: this.allow, tap, supernodes: this.supernodes, directory: this.directory, birthday: this.birthday })
    this.outbound = new Outbound(core, this.sender, this.supernodes, this.allow)
  }

  static async start(config: EdgeConfig, deps: EdgeDeps): Promise<Edge> {
    if (config.supernodes.length === 0) throw new RangeError('give at least one supernode')
    if (!isUnicastMac(deps.tap.mac)) throw new RangeError(`the TAP device's MAC must be unicast: ${formatMac(deps.tap.mac)}`)
    checkLocalAddresses(config.localAddresses ?? [])
    const clock = deps.clock ?? systemClock
    const credentials = config.credentials ?? (await credentialsOf(config, deps.tap.mac, clock))
    if (!credentials.mac.equals(deps.tap.mac)) {
      if (config.credentials === undefined) credentials.destroy()
      throw new RangeError(`the TAP device's MAC ${formatMac(deps.tap.mac)} is not the certificate's ${formatMac(credentials.mac)}`)
    }
    // IPv4 unless a supernode is IPv6: libuv sets only the IPv6 hop limit on a dual-stack socket,
    // and the punching TTL ladder must apply to IPv4 datagrams
    const bindAddress = config.bind?.address ?? (config.supernodes.some((s) => ipFamily(s.host) === 6) ? '::' : '0.0.0.0')
    const transport = deps.transport ?? (await bindUdp({ address: bindAddress, port: config.bind?.port ?? 0 }))
    // birthday punching opens 256 sockets for a few seconds: dgram's, which hold no send ring
    const openTransport = deps.openTransport ?? (() => bindUdp({ address: bindAddress, port: 0 }, 'dgram'))
    const openFallback = deps.openFallback ?? ((url: URL, drop: (reason: CarrierDrop) => void) => openWebSocketCarrier(url, config.fallback ?? {}, drop))
    const edge = new Edge(config, credentials, deps.tap, transport, clock, deps.logger ?? silentLogger, deps.hostStatus ?? (() => ({})), openTransport, openFallback)
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
    // an authority's certificate cannot be renewed here: the edge ends with it (a self-issued one is renewed before)
    const certificateEnd = credentials.selfIssued ? Infinity : credentials.certificate.notAfter * 1000
    const end = Math.min(config.expiresAt ?? Infinity, certificateEnd)
    if (end !== Infinity) {
      edge.expiry = deadline(edge.clock, end, () => {
        if (end === certificateEnd && end !== config.expiresAt) edge.log.error(`the certificate expired at ${new Date(end).toISOString()}: the edge stops; ask the authority for a new one`)
        void edge.stop(end === certificateEnd && end !== config.expiresAt ? CERTIFICATE_REFUSED : 'expired')
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
    return { socketsOpened: this.birthday.socketsOpened, probesSprayed: this.birthday.probesSprayed }
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
    await this.transport.flush()
    for (const link of this.supernodes.links) {
      await link.stream?.flush()
      await link.close()
    }
    await this.birthday.closeAll()
    await this.mgmt?.close()
    await this.transport.close()
    await this.tap.close()
    // nothing can seal, open or sign any more: the keys go with the session
    this.credentials.destroy()
    this.log.info(`edge ${formatEdgeId(this.edgeId)} stopped: ${why}`)
    this.emit('stopped', why)
  }

  /** What a peer's path does outside itself: probes, queries, birthday punching, telling listeners. */
  private pathActions(subnets: OwnSubnets): PathActions {
    return {
      relayOnly: this.relayOnly,
      candidateRules: { subnets, counters: this.counters },
      probe: (owner, address, port, ttl, via) => this.prober.probe(owner.edgeId, address, port, this.clock.now(), ttl, via),
      query: (owner) => this.supernodes.query({ kind: 'edge', edgeId: owner.edgeId }, this.clock.now()),
      birthdayActive: (owner) => this.birthday.active(owner),
      birthdayStart: (owner, now) => this.startBirthday(owner, now),
      birthdayTick: (owner, now) => this.birthday.tick(owner, now),
      birthdayAdopt: (owner) => this.birthday.adopt(owner),
      birthdayRelease: (owner) => this.birthday.release(owner),
      changed: (owner) => this.pathChanged(owner),
    }
  }

  /**
   * Ordinary probes never met: perhaps a symmetric NAT; try the birthday way before the relay.
   * Whether our NAT and the peer's rewrite ports decides who opens sockets and who sprays.
   */
  private startBirthday(owner: PathOwner, now: number): boolean {
    if (!this.birthday.mayStart(owner, now)) return false
    const reflexive = this.supernodes.relayLink(now)?.reflexive
    const mine = reflexive ? reflexive.port !== this.transport.local().port : null
    const { reflexive: theirEndpoint, localPort } = owner.path
    const theirs = theirEndpoint !== null && localPort !== null ? theirEndpoint.port !== localPort : null
    const role = birthdayRole(mine, theirs)
    if (role === null) return false
    this.log.info(`peer ${formatEdgeId(owner.edgeId)}: no direct path yet; trying birthday punching (${role.open ? 'opening ports' : ''}${role.open && role.spray ? ' and ' : ''}${role.spray ? 'spraying' : ''})`)
    this.birthday.start(owner, now, role).catch((err: unknown) => this.log.warn(`birthday punching: ${(err as Error).message}`))
    return true
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
    if (moved && !this.relayOnly) this.directory.onWeMoved()
    // n2n-style auto-IP: a certificate without IPv4 is re-issued with the address given, and registered again everywhere
    this.registration.registered(link, ack)
    this.emit('registered', link.label)
    this.outbound.releaseHeld()
    if (this.config.announce === true && !this.announced && this.overlay !== null) {
      // a peer's kernel may still map our address to the MAC of this device's previous run (killed,
      // restarted with a new random MAC) and send there until its neighbour entry expires, a minute
      // or so: announce the address now, as Linux does on link-up with arp_notify
      this.announced = true
      this.outbound.relay(0, encodeGratuitousArp(this.tap.mac, ipv4Value(this.overlay.address)))
    }
  }

  /** The certificate was re-issued with the address a supernode assigned: the frame filter and the TAP (linux-edge.ts) take it. */
  private addressAssigned(overlay: OverlayAddress): void {
    this.overlay = overlay
    this.filter.setIpv4(ipv4Value(overlay.address), overlay.prefix)
    this.emit('overlay', overlay)
  }

  /** The fallback failed to open (stream null), or closed: counted and logged; the link dials again by itself. */
  private fallbackDown(link: SupernodeLink, why: string, stream: StreamCarrier | null): void {
    if (stream === null) {
      this.counters.fallbackFailures++
      this.log.warn(`supernode ${link.label}: fallback ${link.fallback?.href ?? ''} failed: ${why}`)
      return
    }
    // the sealed sender counted sends through it: the count goes with it
    this.sender.forget(stream)
    this.counters.fallbackCloses++
    this.log.info(`supernode ${link.label}: fallback ${stream.url} closed: ${why}`)
  }

  private carrierChanged(link: SupernodeLink, from: LinkTransport | null, to: LinkTransport): void {
    if (to === 'udp') {
      this.counters.udpReturns++
      this.log.info(`supernode ${link.label}: UDP works again; registered over UDP port ${link.port} instead of ${from ?? 'the fallback'}`)
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
    this.directory.runTimers(now)
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
      allow: this.allow?.rules ?? null,
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
      peers: [...this.peers.values()].map((p) => {
        const endpoint = p.path.endpoint
        const direct = p.path.isDirect && endpoint !== null
        return {
          id: formatEdgeId(p.edgeId),
          mac: p.identity ? formatMac(p.identity.mac) : null,
          ip: p.identity?.overlay?.address ?? null,
          name: p.identity?.name ?? '',
          path: p.path.state,
          via: direct ? 'udp' : (relay?.transport ?? null),
          relay: direct ? null : (relay?.label ?? null),
          endpoint: endpoint ? formatHostPort({ host: endpoint.address, port: endpoint.port }) : null,
          rttMs: p.path.rttMs,
          lastSeenMs: now - p.lastSeen,
          rxPackets: p.rxPackets,
          txPackets: p.txPackets,
          rxBytes: p.rxBytes,
          txBytes: p.txBytes,
        }
      }),
      counters: { ...this.counters },
      drops: { ...this.drops },
      ...this.hostStatus(),
    }
  }

  metrics(): string {
    let direct = 0
    for (const p of this.peers.values()) if (p.path.isDirect) direct++
    return edgeMetrics(this.counters, this.drops, { supernodesRegistered: this.supernodes.registeredCount, peersDirect: direct, peersOther: this.peers.size - direct })
  }
}

/** An edge's credentials from its config (a shared secret, or a certificate for `identity`), with the TAP's MAC. */
function credentialsOf(config: EdgeConfig, mac: Buffer, clock: Clock): Promise<Credentials> {
  const source = config.certificate !== undefined ? { certificate: config.certificate } : { community: config.community, key: config.key, keys: config.keys }
  return Credentials.create({ clock, identity: config.identity, ...source, mac, ipv4: config.overlay, name: config.name })
}

/** The default fallback: a WebSocket (ws-connect.ts) as a bounded carrier (ws-carrier.ts). */
async function openWebSocketCarrier(url: URL, options: FallbackOptions, drop: (reason: CarrierDrop) => void): Promise<StreamCarrier> {
  const connection = await connectWebSocket({ url, ca: options.ca, proxy: options.proxy?.(url) ?? null, timeoutMs: options.timeoutMs })
  return new WsCarrier(url, connection, drop)
}
