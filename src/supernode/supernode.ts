// The supernode: UDP sockets and WebSocket connections (one MuxTransport) through which it registers
// edges (cookie first, then a member certificate and the member's signed announcement), answers
// keepalives, introduces peers to each other for hole punching, relays session packets it cannot
// open between members of one community, unregisters certificates at their end, and keeps and
// passes on the authorities' revocations. Every refused packet is counted by reason. An edge is
// addressed by (address, route): route.ts.
import { CookieMinter, communityIdOf, formatFingerprint, verify, verifyRevocation } from '../crypto/index.js'
import { LogThrottle, silentLogger, type Logger } from '../log/logger.js'
import { MgmtServer, type MgmtListen } from '../mgmt/server.js'
import { defineCounters, newCounters, writeCounterMetrics } from '../mgmt/counter-table.js'
import { MetricsText } from '../mgmt/prometheus.js'
import { formatHostPort, type HostPort } from '../net/address.js'
import { bindUdpAny } from '../net/bind.js'
import { MuxTransport, type EndpointTransport } from '../net/mux-transport.js'
import { remotePortOf, socketIndexOf } from '../net/route.js'
import type { Transport } from '../net/transport.js'
import { WsListener, type WsListenerConfig } from '../net/ws-listener.js'
import { systemClock, type Clock, type TimerHandle } from '../time/clock.js'
import {
  CODEC_REASONS,
  MAX_PACKET_BYTES,
  OLD_WIRE_VERSION,
  ErrorCode,
  PacketType,
  RelayHeader,
  decodeAnnouncement,
  decodePacket,
  deregisterSignedBytes,
  encodeCookie,
  encodeError,
  encodeKeepalive,
  decodeOldProtocolHello,
  NO_PROOF,
  NO_SUBJECT,
  rateLimitedProof,
  u64Bytes,
  encodePeerInfo,
  encodeRegisterAck,
  formatEdgeId,
  formatMac,
  macBytesOf,
  endpointOf,
  readRelayHeader,
  encodeEndpoint,
  u53Bytes,
  zeroCounters,
  type Deregister,
  type Endpoint,
  type Hello,
  type Keepalive,
  type PeerQuery,
  type Register,
  type RevocationPacket,
  EnrollKind,
  encodeEnrollOffer,
  encodeEnrollReply,
  type EnrollPacket,
  type EnrollAsk,
  type EnrollAnswer,
} from '../wire/index.js'
import { ENROLL_TRACKED_KEYS, EnrollExchanges } from './enroll-exchanges.js'
import { parseSubnet } from './auto-ip.js'
import { CertificateCache, type CertificateCheck, type CertificateRefusal } from './certificate-cache.js'
import { InlineVerifier, WorkerVerifier, type SignatureCheck, type SignatureVerifier } from './signature-checks.js'
import { checkMemoryLimits, describeMemoryBound, memoryBound, type MemoryBound } from './memory-bound.js'
import { RateLimiter, type RateLimit } from './rate-limit.js'
import { DEFAULT_SUPERNODE_PORT } from './defaults.js'
import { Registry, type EdgeEntry } from './registry.js'
import { RevocationStore } from './revocation-store.js'
import { sourceKeyOf } from './sources.js'

export { DEFAULT_SUPERNODE_PORT }
/** per kind of line (refusals, new edges): enough to follow by eye, bounded under a flood */
const LOG_LINES_PER_SECOND = 10
/**
 * ERRORs per source address and port, whatever the refusal: a few at once (an edge may be refused
 * twice in a row while it registers, and should hear both), then one a second: never a reflector.
 */
export const ERROR_BURST = 4
export const ERRORS_PER_SECOND = 1
export const DEFAULT_SUPERNODE_MGMT: HostPort = { host: '127.0.0.1', port: 5645 }
/** How often certificates are checked for their end: an edge is unregistered within a second of its notAfter. */
export const CERTIFICATE_CHECK_MS = 1000
/** Revocations whose certificates have ended are forgotten this often (and at once when the store is full). */
const REVOCATION_PRUNE_MS = 60_000
/** One line per this long about edges that speak protocol v1, however many there are. */
const OLD_PROTOCOL_LOG_MS = 60_000

/**
 * How long a holder of a MAC or overlay address must have been silent before another member key
 * may take it: a keepalive interval and 5 s (25 s with the default 20 s). A live edge sends a
 * keepalive every third of the interval, so this is three keepalives missed in a row, not a lost one.
 */
export function holderSilentMs(keepaliveSeconds: number): number {
  return (keepaliveSeconds + 5) * 1000
}

/** The WebSocket listener (`--tcp-port`), as the CLI gives it; the supernode adds its idle time and address key. */
export type SupernodeWsConfig = Omit<WsListenerConfig, 'idleMs' | 'addressKey'>

export interface SupernodeConfig {
  port: number
  /** further UDP ports (-p given more than once), one registry behind all: an edge is answered from the port it came in on */
  extraPorts: number[]
  /** WebSocket connections (binary messages = datagrams), or null for UDP only */
  ws: SupernodeWsConfig | null
  /** address to bind; undefined: dual-stack '::' where the host has IPv6, else 0.0.0.0 */
  bindAddress?: string
  /** management HTTP listener, or null for none */
  /** management HTTP (GET /status, /metrics): where it listens and the Host names it answers to */
  mgmt: MgmtListen | null
  maxCommunities: number
  maxEdgesPerCommunity: number
  /** edges of all communities together: with maxCommunities, what bounds the registry's memory */
  maxEdges: number
  /** edges registered from one source address and port (one socket: one edge, a few after restarts) */
  maxEdgesPerEndpoint: number
  /** edges registered from one source address, an IPv6 /64 counting as one (many edges behind one NAT) */
  maxEdgesPerAddress: number
  /** how often edges must send a keepalive (told to them in REGISTER_ACK) */
  keepaliveSeconds: number
  /** an edge is expired after this many keepalive intervals of silence */
  missedKeepalives: number
  /** control packets per source address and port (one edge) */
  controlRate: RateLimit
  /** control packets per source address, all ports together (many edges behind one NAT, or a flood from many ports) */
  controlRatePerAddress: RateLimit
  /** relayed frames per edge */
  relayRate: RateLimit
  /** bytes the relay sends per source address (fan-out included: a broadcast costs its size times its receivers) */
  relayBytesPerSource: RateLimit
  /** bytes the relay sends per community, fan-out included */
  relayBytesPerCommunity: RateLimit
  /** how many source addresses each rate limiter and budget table tracks at once */
  maxTrackedSources: number
  cookieLifetimeSeconds: number
  /** enrollment asks (ENROLL) per source address, an IPv6 /64 as one: a waiting technician polls once a second */
  enrollRatePerSource: RateLimit
  /** enrollment asks forwarded to one device edge, from everyone together: what a flood can make the device handle */
  enrollRatePerDevice: RateLimit
  /** range for n2n-style automatic addresses (a /24 per community) */
  autoIpRange: string
  /**
   * verify registrations' signatures on a worker thread (signature-checks.ts): on a machine with a
   * second core, what lets fresh registrations reach 0.35 × one core's verify rate. The CLI turns
   * it on where os.availableParallelism() > 1; off, registrations complete synchronously.
   */
  signatureWorker: boolean
}

const MiB = 1024 * 1024

export const DEFAULT_SUPERNODE_CONFIG: SupernodeConfig = {
  port: DEFAULT_SUPERNODE_PORT,
  extraPorts: [],
  ws: null,
  mgmt: DEFAULT_SUPERNODE_MGMT,
  maxCommunities: 10_000,
  maxEdgesPerCommunity: 1024,
  // with the other defaults, the worst case fits DEFAULT_MEMORY_BOUND (memory-bound.ts): 486 MiB, 510 MiB with the signature worker
  maxEdges: 75_000,
  // a socket is one edge; a few more for an edge restarted on a fixed port (-p) before its old run expired
  maxEdgesPerEndpoint: 4,
  // a NAT or a carrier-grade NAT puts many edges behind one address; an attacker gets no more than this
  maxEdgesPerAddress: 256,
  // below the 30 s that many NATs keep an idle UDP mapping
  keepaliveSeconds: 20,
  missedKeepalives: 3,
  // an edge needs ~3 control packets to register and one per keepalive: this leaves plenty
  controlRate: { perSecond: 50, burst: 100 },
  controlRatePerAddress: { perSecond: 2_000, burst: 4_000 },
  relayRate: { perSecond: 200_000, burst: 20_000 },
  // ~1 Gbit/s per source address and ~2 Gbit/s per community: relayed TCP between two edges (about
  // 1.1 Gbit/s on our lab) passes; a broadcast fanned out to 1,000 members is held to the same bytes;
  // the bursts (1/8 s) hold one 2,048-byte broadcast to 1,024 members (2 MiB) with room to spare
  relayBytesPerSource: { perSecond: 128 * MiB, burst: 16 * MiB },
  relayBytesPerCommunity: { perSecond: 256 * MiB, burst: 32 * MiB },
  // five tables keyed by source (memory-bound.ts); past this many keys a table starts again, and a
  // flood from more sources than that gets one burst per source per restart, which is bounded
  maxTrackedSources: 50_000,
  cookieLifetimeSeconds: 60,
  // a handshake is two asks, then a poll a second; a few technicians behind one NAT fit
  enrollRatePerSource: { perSecond: 5, burst: 10 },
  // ten technicians waiting at once, each polling once a second, with room for their handshakes
  enrollRatePerDevice: { perSecond: 20, burst: 40 },
  autoIpRange: '10.128.0.0/9',
  // in-process supernodes (tests, the assistance service's own) complete registrations synchronously; the CLI sets it by core count
  signatureWorker: false,
}

export const SUPERNODE_REASONS = [
  ...CODEC_REASONS,
  'rate-limited',
  'bad-cookie',
  'bad-signature',
  'bad-certificate-signature',
  'certificate-expired',
  'certificate-revoked',
  'certificate-not-yet-valid',
  'stale-record',
  'too-many-communities',
  'community-full',
  'supernode-full',
  'endpoint-full',
  'address-full',
  'mac-in-use',
  'address-in-use',
  'no-free-address',
  'unknown-edge',
  'unknown-peer',
  'unexpected-type',
  'relay-unknown-sender',
  'relay-wrong-source',
  'relay-unknown-dest',
  'relay-rate-limited',
  'relay-source-over-budget',
  'relay-community-over-budget',
  'bad-deregister',
  'revocation-bad-signature',
  'revocation-unknown-community',
  'revocations-full',
  'enroll-rate-limited', // asks over their source address's enrollment rate
  'enroll-device-rate-limited', // asks over the device's enrollment rate (everyone together)
  'enroll-unknown-device', // an ask for a device edge not registered in that community
  'enroll-exchange-taken', // an ask under an exchange another address holds
  'enroll-table-full', // the exchange table holds only live asks
  'enroll-not-device', // an answer from an address where that device edge is not registered
  'enroll-unasked', // an answer to an exchange nobody asked under within 30 s
  'verify-backlog', // a REGISTER while MAX_WAITING_CHECKS signature checks wait for the worker (the edge sends it again)
] as const
export type SupernodeReason = (typeof SUPERNODE_REASONS)[number]

const REASON_OF_ERROR: Record<ErrorCode, SupernodeReason> = {
  [ErrorCode.RateLimited]: 'rate-limited',
  [ErrorCode.TooManyCommunities]: 'too-many-communities',
  [ErrorCode.CommunityFull]: 'community-full',
  [ErrorCode.BadCookie]: 'bad-cookie',
  [ErrorCode.BadSignature]: 'bad-signature',
  [ErrorCode.UnknownEdge]: 'unknown-edge',
  [ErrorCode.MacInUse]: 'mac-in-use',
  [ErrorCode.AddressInUse]: 'address-in-use',
  [ErrorCode.NoFreeAddress]: 'no-free-address',
  [ErrorCode.UnknownPeer]: 'unknown-peer',
  [ErrorCode.StaleRecord]: 'stale-record',
  [ErrorCode.SupernodeFull]: 'supernode-full',
  [ErrorCode.EndpointFull]: 'endpoint-full',
  [ErrorCode.AddressFull]: 'address-full',
  [ErrorCode.CertificateExpired]: 'certificate-expired',
  [ErrorCode.CertificateRevoked]: 'certificate-revoked',
  [ErrorCode.CertificateNotYetValid]: 'certificate-not-yet-valid',
  [ErrorCode.BadCertificate]: 'bad-certificate-signature',
}

const ERROR_OF_CERTIFICATE: Record<CertificateRefusal, ErrorCode> = {
  'certificate-expired': ErrorCode.CertificateExpired,
  'certificate-revoked': ErrorCode.CertificateRevoked,
  'certificate-not-yet-valid': ErrorCode.CertificateNotYetValid,
  'bad-certificate-signature': ErrorCode.BadCertificate,
}

export interface SupernodeDeps {
  clock?: Clock
  logger?: Logger
  /** a transport to use instead of binding the first UDP socket (tests) */
  transport?: Transport
}

export interface SupernodeStatus {
  port: number
  /** every UDP port, the first being `port` */
  udpPorts: number[]
  /** the WebSocket listener: its port, TLS or plain, connections open and before their upgrade, refusals by reason */
  websocket: {
    port: number
    transport: 'tls' | 'ws'
    connections: number
    pending: number
    accepted: number
    /** bytes waiting in the connections' send queues, and handed to their sockets but not yet sent */
    queuedBytes: number
    bufferedBytes: number
    refused: Record<string, number>
  } | null
  communities: number
  edges: {
    id: string
    community: string
    mac: string
    ip: string | null
    /** the certificate's display name, IPv6 address (or null), fingerprint (formatFingerprint), role and end */
    name: string
    ipv6: string | null
    fingerprint: string
    role: string
    notAfter: string
    endpoint: string
    /** how it reaches the supernode: "udp", "tls" (a WebSocket over the supernode's TLS) or "ws" (a plain one, behind a proxy) */
    transport: EndpointTransport
    lastSeenMs: number
    registeredAt: string
    relayedFrames: number
  }[]
  counters: Record<string, number>
  drops: Record<string, number>
  /** revocations kept, every community together (at most MAX_REVOCATIONS) */
  revocations: number
  /** where registrations' signatures are verified, and how many checks wait for the worker */
  signatureChecks: { thread: 'worker' | 'main'; waiting: number }
  /** the most memory the supernode's tables can take at its limits, with the process around them (memory-bound.ts) */
  memoryBoundBytes: number
}

/** The supernode's counters: fields, /status `counters` and /metrics are all made from this table. */
export const SUPERNODE_COUNTERS = defineCounters({
  packetsIn: { metric: 'overlan_supernode_packets_in_total', help: 'Datagrams received', kind: 'counter' },
  bytesIn: { metric: 'overlan_supernode_bytes_in_total', help: 'Bytes received', kind: 'counter' },
  packetsOut: { metric: 'overlan_supernode_packets_out_total', help: 'Datagrams sent', kind: 'counter' },
  bytesOut: { metric: 'overlan_supernode_bytes_out_total', help: 'Bytes sent', kind: 'counter' },
  registrations: { metric: 'overlan_supernode_registrations_total', help: 'Registrations accepted (new and refreshed)', kind: 'counter' },
  expirations: { metric: 'overlan_supernode_expirations_total', help: 'Edges expired after missed keepalives', kind: 'counter' },
  deregistrations: { metric: 'overlan_supernode_deregistrations_total', help: 'Edges that deregistered', kind: 'counter' },
  relayedFrames: { metric: 'overlan_supernode_relayed_frames_total', help: 'Sealed frames forwarded to an edge', kind: 'counter' },
  relayedBytes: { metric: 'overlan_supernode_relayed_bytes_total', help: 'Bytes of sealed frames forwarded', kind: 'counter' },
  relayFramesIn: {
    metric: 'overlan_supernode_relay_frames_in_total',
    help: 'Sealed frames received for relay from registered senders at their endpoint, before the relay limits',
    kind: 'counter',
  },
  relayBytesIn: {
    metric: 'overlan_supernode_relay_bytes_in_total',
    help: 'Bytes of sealed frames received for relay from registered senders: relayed bytes over these is the fan-out',
    kind: 'counter',
  },
  peerQueries: { metric: 'overlan_supernode_peer_queries_total', help: 'Peer queries received', kind: 'counter' },
  certificateCacheHits: {
    metric: 'overlan_supernode_certificate_cache_hits_total',
    help: 'Registrations whose certificate had been verified before (authority signature not checked again)',
    kind: 'counter',
  },
  certificateCacheMisses: { metric: 'overlan_supernode_certificate_cache_misses_total', help: "Registrations whose certificate's authority signature was checked", kind: 'counter' },
  certificateExpirations: { metric: 'overlan_supernode_certificate_expirations_total', help: "Edges unregistered at their certificate's notAfter", kind: 'counter' },
  revocationsAdded: { metric: 'overlan_supernode_revocations_added_total', help: 'Revocations verified, kept and passed on to the community', kind: 'counter' },
  revocationsKnown: { metric: 'overlan_supernode_revocations_known_total', help: 'Revocations received again (kept already: nothing passed on)', kind: 'counter' },
  revocationsOutlived: { metric: 'overlan_supernode_revocations_outlived_total', help: 'Revocations of certificates that had ended already (nothing to keep)', kind: 'counter' },
  revocationsForwarded: { metric: 'overlan_supernode_revocations_forwarded_total', help: 'REVOCATION packets sent to members', kind: 'counter' },
  revokedEdgesRemoved: { metric: 'overlan_supernode_revoked_edges_removed_total', help: 'Registered edges removed when their certificate was revoked', kind: 'counter' },
  enrollAsksForwarded: { metric: 'overlan_supernode_enroll_asks_forwarded_total', help: 'Enrollment asks forwarded to a device edge', kind: 'counter' },
  enrollAnswersForwarded: { metric: 'overlan_supernode_enroll_answers_forwarded_total', help: 'Enrollment answers forwarded to the technician that asked', kind: 'counter' },
})

export class Supernode {
  readonly drops = zeroCounters(SUPERNODE_REASONS)
  readonly counters = newCounters(SUPERNODE_COUNTERS)
  readonly registry: Registry
  /** the worst case of memory at the configured limits: logged at start, in /status */
  readonly memoryBound: MemoryBound
  private readonly cookies: CookieMinter
  private readonly controlLimiter: RateLimiter
  private readonly addressLimiter: RateLimiter
  /** every ERROR, ERROR_BURST then ERRORS_PER_SECOND per source address and port (sendError) */
  private readonly errorLimiter: RateLimiter
  private readonly header = new RelayHeader()
  private readonly certificates = new CertificateCache()
  private readonly revocations = new RevocationStore()
  /** who asked which device what (enroll-exchanges.ts): read by tests and the memory bound */
  readonly enrollExchanges = new EnrollExchanges()
  private readonly enrollSourceLimiter: RateLimiter
  private readonly enrollDeviceLimiter: RateLimiter
  private readonly refusalLog: LogThrottle
  /** a line per new edge, but not 10,000 a second when every edge comes back after a restart */
  private readonly joinLog: LogThrottle
  /** a line per new revocation: an authority of one's own can sign as many as the rate limits let in */
  private readonly revocationLog: LogThrottle
  private readonly warn = (message: string): void => this.log.warn(message)
  private readonly info = (message: string): void => this.log.info(message)
  private sweeper: TimerHandle | null = null
  private certificateTimer: TimerHandle | null = null
  private lastRevocationPrune: number
  private oldProtocolLoggedAt = -Infinity
  private mgmt: MgmtServer | null = null
  private readonly verifier: SignatureVerifier
  private stopped = false

  private constructor(
    readonly config: SupernodeConfig,
    private readonly transport: MuxTransport,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.registry = new Registry({ ...config, autoIpRange: parseSubnet(config.autoIpRange) })
    this.memoryBound = memoryBound(config)
    this.cookies = new CookieMinter(config.cookieLifetimeSeconds)
    this.controlLimiter = new RateLimiter(config.controlRate, config.maxTrackedSources)
    this.addressLimiter = new RateLimiter(config.controlRatePerAddress, config.maxTrackedSources)
    this.errorLimiter = new RateLimiter({ perSecond: ERRORS_PER_SECOND, burst: ERROR_BURST }, config.maxTrackedSources)
    this.enrollSourceLimiter = new RateLimiter(config.enrollRatePerSource, ENROLL_TRACKED_KEYS)
    this.enrollDeviceLimiter = new RateLimiter(config.enrollRatePerDevice, ENROLL_TRACKED_KEYS)
    this.refusalLog = new LogThrottle(LOG_LINES_PER_SECOND, () => clock.now())
    this.joinLog = new LogThrottle(LOG_LINES_PER_SECOND, () => clock.now())
    this.revocationLog = new LogThrottle(LOG_LINES_PER_SECOND, () => clock.now())
    this.lastRevocationPrune = clock.now()
    this.verifier = config.signatureWorker ? new WorkerVerifier(log) : new InlineVerifier()
  }

  static async start(options: Partial<SupernodeConfig> = {}, deps: SupernodeDeps = {}): Promise<Supernode> {
    const config = { ...DEFAULT_SUPERNODE_CONFIG, ...options }
    // refuse a bad range or impossible limits before binding anything
    parseSubnet(config.autoIpRange)
    checkMemoryLimits(config)
    const clock = deps.clock ?? systemClock
    const transport = await openWays(config, deps.transport, clock)
    const node = new Supernode(config, transport, clock, deps.logger ?? silentLogger)
    transport.onDatagram((msg, address, route) => node.receive(msg, address, route))
    node.sweeper = node.clock.every(config.keepaliveSeconds * 500, () => node.expireSilent())
    node.certificateTimer = node.clock.every(CERTIFICATE_CHECK_MS, () => node.endCertificates())
    if (config.mgmt !== null) {
      try {
        node.mgmt = await MgmtServer.start(config.mgmt, { status: () => node.status(), metrics: () => node.metrics() })
      } catch (err) {
        await node.stop()
        throw new Error(`cannot listen for management on ${formatHostPort(config.mgmt)}: ${(err as Error).message}`, { cause: err })
      }
    }
    node.log.info(`supernode listening on UDP ${transport.udpPorts().map((port) => formatHostPort({ host: transport.local().address, port })).join(', ')}`)
    const ws = transport.ws
    if (ws !== null) node.log.info(`supernode listening for WebSocket (${ws.kind === 'tls' ? 'TLS' : 'plain, behind a TLS proxy'}) on TCP ${formatHostPort({ host: ws.local().address, port: ws.local().port })} path /overlan`)
    node.log.info(describeMemoryBound(node.memoryBound))
    return node
  }

  get port(): number {
    return this.transport.local().port
  }

  /** every UDP port, the first being `port` */
  get udpPorts(): number[] {
    return this.transport.udpPorts()
  }

  /** the WebSocket listener's TCP port, or null without one */
  get tcpPort(): number | null {
    return this.transport.ws?.local().port ?? null
  }

  get mgmtAddress(): HostPort | null {
    return this.mgmt?.address() ?? null
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.verifier.close()
    this.sweeper?.cancel()
    this.sweeper = null
    this.certificateTimer?.cancel()
    this.certificateTimer = null
    await this.mgmt?.close()
    this.mgmt = null
    await this.transport.close()
    this.cookies.destroy()
  }

  // ---- receive path ------------------------------------------------------------------------

  private receive(msg: Buffer, address: string, port: number): void {
    this.counters.packetsIn++
    this.counters.bytesIn += msg.length
    // relay from a member at its registered endpoint is the hot path, with limits of its own (frames
    // per edge, bytes per source and per community): no decodePacket, no allocation, no rate-limiter
    // lookup by string. Everything else, a RELAY from anywhere else included, is admitted by the
    // control rate limiters first.
    if (msg.length > 1 && msg[1] === PacketType.Relay && this.relayFromMember(msg, address, port)) return
    if (msg.length > MAX_PACKET_BYTES) {
      // refused for its size alone, before it costs a rate-limiter lookup
      this.drops.oversized++
      return
    }
    const now = this.clock.now()
    if (!this.controlLimiter.allow(`${address}:${port}`, now) || !this.addressLimiter.allow(sourceKeyOf(address), now)) {
      this.drops['rate-limited']++
      if (msg[1] === PacketType.Register || msg[1] === PacketType.Keepalive) {
        this.refusalLog.pass('refused (rate-limited): a registration or keepalive over its source rate', this.warn)
        // what the edge sent is echoed as the proof, so that it can believe it; the limiter of
        // sendError is asked first here, so that a flood costs no copy of a proof per packet
        if (this.errorLimiter.allow(`${address}:${port}`, now)) this.send(encodeError(ErrorCode.RateLimited, rateLimitedProof(msg), NO_SUBJECT), address, port)
      }
      return
    }
    if (msg[0] === OLD_WIRE_VERSION) return this.oldProtocol(msg, address, port)
    if (msg[1] === PacketType.Relay) return this.relayFromStranger(msg, address, port, now)
    // a REGISTER whose signatures the worker checks completes a turn later: past the receive
    // buffer's reuse, so it is decoded from a copy of its own
    const decoded = decodePacket(msg[1] === PacketType.Register && this.verifier.mode === 'worker' ? Buffer.from(msg) : msg)
    if (!decoded.ok) {
      this.drops[decoded.reason]++
      return
    }
    const packet = decoded.value
    switch (packet.type) {
      case PacketType.Hello:
        return this.hello(packet, address, port)
      case PacketType.Register:
        return this.register(packet, address, port)
      case PacketType.Keepalive:
        return this.keepalive(packet, address, port)
      case PacketType.PeerQuery:
        return this.peerQuery(packet, address, port)
      case PacketType.Deregister:
        return this.deregister(packet, address, port)
      case PacketType.Revocation:
        return this.revocation(packet, msg, address, port)
      case PacketType.Enroll:
        return this.enroll(packet, address, port)
      default:
        this.drops['unexpected-type']++
    }
  }

  private hello(packet: Hello, address: string, port: number, version?: number): void {
    const endpoint = this.seenAs(address, port)
    const cookie = this.cookies.mint(this.nowSeconds(), packet.clientNonce, cookieSubject(endpoint, port))
    // 59 bytes back for 64 received: never an amplifier for a spoofed source
    this.send(encodeCookie(packet.clientNonce, cookie, endpoint, this.clock.now(), version), address, port)
  }

  /**
   * A packet of protocol v1 (overlan 0.1). A v1 HELLO (its layout is v2's) gets a v1 COOKIE: a v2
   * edge's probe learns from it that this supernode is up, and a v1 edge gets as far as its REGISTER,
   * which is refused like every other v1 packet: counted, and one line a minute to say what to upgrade.
   */
  private oldProtocol(msg: Buffer, address: string, port: number): void {
    this.drops['old-protocol']++
    const hello = decodeOldProtocolHello(msg)
    if (hello !== null) return this.hello(hello, address, port, OLD_WIRE_VERSION)
    const now = this.clock.now()
    if (now - this.oldProtocolLoggedAt < OLD_PROTOCOL_LOG_MS) return
    this.oldProtocolLoggedAt = now
    this.log.warn(`an edge at ${this.where(address, port)} speaks protocol v1 (overlan 0.1): upgrade it to overlan 0.2 or later`)
  }

  /**
   * Cookie first (a keyed hash: spoofed sources stop here), then the certificate (time, revocation,
   * the authority's signature unless cached), then the member's signature over the announcement
   * (every REGISTER: it is what makes the announcement the holder's own), then the registry's holder rules.
   */
  private register(packet: Register, address: string, port: number): void {
    const seen = this.seenAs(address, port)
    if (!this.cookies.check(this.nowSeconds(), packet.cookie, packet.clientNonce, cookieSubject(seen, port))) {
      this.refuse(ErrorCode.BadCookie, packet.clientNonce, NO_SUBJECT, address, port, `bad or expired cookie from ${this.where(address, port)}`)
      return
    }
    const announcement = packet.announcement
    const found = this.certificates.lookup(announcement.certificate, this.nowSeconds(), this.revocations)
    if (found.ok === false) return this.refuseCertificate(found.reason, packet, address, port)
    const memberSignature: SignatureCheck = { context: 'announcement', message: announcement.body, signature: announcement.signature, publicKey: announcement.certificate.memberKey }
    const checks = found.ok === 'unchecked' ? [memberSignature, found.authoritySignature] : [memberSignature]
    const accepted = this.verifier.verify(checks, ([member, authority]) => {
      if (this.stopped) return
      if (found.ok === 'unchecked' && !authority) return this.refuseCertificate('bad-certificate-signature', packet, address, port)
      // the verdict may come a turn later (the worker): the certificate may have ended or been revoked meanwhile
      const ended = this.certificates.endedOrRevoked(announcement.certificate, found.communityHex, found.fingerprintHex, this.nowSeconds(), this.revocations)
      if (ended !== null) return this.refuseCertificate(ended, packet, address, port)
      this.registerVerified(packet, found.ok === 'unchecked' ? this.certificates.remember(found) : found, member!, address, port)
    })
    if (!accepted) this.drops['verify-backlog']++
  }

  private refuseCertificate(reason: CertificateRefusal, packet: Register, address: string, port: number): void {
    const certificate = packet.announcement.certificate
    const what = `certificate "${certificate.name}" serial ${certificate.serial} (notBefore ${isoSeconds(certificate.notBefore)}, notAfter ${isoSeconds(certificate.notAfter)}) from ${this.where(address, port)}`
    this.refuse(ERROR_OF_CERTIFICATE[reason], packet.clientNonce, NO_SUBJECT, address, port, what)
  }

  /** The certificate is good (cached, or its authority signature just verified): the member's signature, then the registry's holder rules. */
  private registerVerified(packet: Register, checked: CertificateCheck & { ok: true }, memberSigned: boolean, address: string, port: number): void {
    const announcement = packet.announcement
    const certificate = announcement.certificate
    if (checked.cached) this.counters.certificateCacheHits++
    else this.counters.certificateCacheMisses++
    if (!memberSigned) {
      this.refuse(ErrorCode.BadSignature, packet.clientNonce, NO_SUBJECT, address, port, `bad announcement signature from ${this.where(address, port)}`)
      return
    }
    const edgeId = checked.edgeId
    const now = this.clock.now()
    const outcome = this.registry.register({
      edgeId,
      communityId: checked.communityId,
      communityHex: checked.communityHex,
      claim: {
        announcement: announcement.bytes,
        timestamp: announcement.timestamp,
        fingerprint: checked.fingerprintHex,
        notAfter: certificate.notAfter,
        name: certificate.name,
        role: certificate.role,
        mac: certificate.mac,
        ipv4: certificate.ipv4,
        ipv6: certificate.ipv6,
      },
      // the registry knows an edge by address and route (the way it came in), as keepalives and relay do
      endpoint: endpointOf(address, port),
      nonce: packet.clientNonce,
      now,
      silentAfterMs: holderSilentMs(this.config.keepaliveSeconds),
    })
    if (!outcome.ok) {
      this.refuse(outcome.code, packet.clientNonce, NO_SUBJECT, address, port, `edge ${formatEdgeId(edgeId)} "${certificate.name}" from ${this.where(address, port)}`)
      return
    }
    const edge = outcome.edge
    this.counters.registrations++
    this.transport.registered(port)
    if (outcome.isNew && this.joinLog.admit(this.info)) {
      this.log.info(
        `registered edge ${formatEdgeId(edge.edgeId)} "${edge.name}" (${edge.role}) community ${edge.community.idHex.slice(0, 8)} mac ${formatMac(macBytesOf(edge.macKey))} ip ${edge.overlay.address} until ${isoSeconds(edge.notAfter)} from ${this.where(address, port)}`,
      )
    }
    this.send(
      encodeRegisterAck({ edgeId, timestamp: announcement.timestamp, reflexive: this.seenAs(address, port), overlay: edge.overlay, keepaliveSeconds: this.config.keepaliveSeconds, serverTimeMs: now }),
      address,
      port,
    )
  }

  private keepalive(packet: Keepalive, address: string, port: number): void {
    const edge = this.registeredAt(packet.edgeId, address, port)
    if (edge === undefined) {
      // the sequence the edge sent proves this answer to it (it starts at a random 48-bit value)
      this.refuse(ErrorCode.UnknownEdge, u53Bytes(packet.seq), u53Bytes(packet.edgeId), address, port, null)
      return
    }
    edge.lastSeen = this.clock.now()
    this.send(encodeKeepalive(PacketType.KeepaliveAck, packet.edgeId, packet.seq), address, port)
  }

  private peerQuery(packet: PeerQuery, address: string, port: number): void {
    this.counters.peerQueries++
    const asker = this.registeredAt(packet.senderId, address, port)
    if (asker === undefined) {
      // nothing the asker sent is secret: a hint, which the edge checks with a keepalive
      this.drops['unknown-edge']++
      this.sendHint(u53Bytes(packet.senderId), address, port, this.clock.now())
      return
    }
    asker.lastSeen = this.clock.now()
    const target = packet.target
    const peer =
      target.kind === 'edge'
        ? this.registry.edges.get(target.edgeId)
        : target.kind === 'mac'
          ? this.registry.findByMac(asker.community, target.mac)
          : this.registry.findByIp(asker.community, target.address)
    if (peer === undefined || peer.community !== asker.community || peer === asker) {
      const subject = target.kind === 'edge' ? u53Bytes(target.edgeId) : Buffer.concat([target.kind === 'mac' ? target.mac : target.address], 8)
      this.refuse(ErrorCode.UnknownPeer, u64Bytes(asker.nonce), subject, address, port, null)
      return
    }
    // both at once: the asker learns the peer, the peer learns the asker and starts probing too
    // an edge on a WebSocket goes out flagged relay-only: its connection is no UDP endpoint to punch toward
    this.send(encodePeerInfo(PacketType.PeerInfo, this.seenAs(peer.address, peer.port), peer.announcement, this.onWebSocket(peer)), address, port)
    this.send(encodePeerInfo(PacketType.PunchRequest, this.seenAs(asker.address, asker.port), asker.announcement, this.onWebSocket(asker)), peer.address, peer.port)
  }

  private deregister(packet: Deregister, address: string, port: number): void {
    const edge = this.registeredAt(packet.edgeId, address, port)
    if (edge === undefined || !verify('deregister', deregisterSignedBytes(packet.edgeId, packet.timestamp), packet.signature, memberKeyOf(edge))) {
      this.drops['bad-deregister']++
      return
    }
    this.counters.deregistrations++
    this.registry.remove(edge)
    this.log.info(`deregistered edge ${formatEdgeId(edge.edgeId)} community ${edge.community.idHex.slice(0, 8)}`)
  }

  /**
   * An authority's revocation of one certificate, from anyone (it proves itself): kept until the
   * certificate's end, passed on to every member of its community, and the member holding that
   * certificate, if registered, removed at once. A revocation kept already costs a lookup and
   * nothing more (no signature check, no fan-out): an authority's edge re-sends its revocations
   * with its registrations. Only communities with a registered member are listened to: nobody else
   * is there to protect, and an authority re-sends its revocations when its edge registers.
   */
  private revocation(packet: RevocationPacket, msg: Buffer, address: string, port: number): void {
    const revocation = packet.revocation
    const communityId = communityIdOf(revocation.authorityKey)
    const communityHex = communityId.toString('hex')
    const community = this.registry.communities.get(communityHex)
    if (community === undefined) {
      this.drops['revocation-unknown-community']++
      return
    }
    const fingerprintHex = revocation.fingerprint.toString('hex')
    const nowSeconds = this.nowSeconds()
    if (this.revocations.isRevoked(communityHex, fingerprintHex)) {
      this.counters.revocationsKnown++
      return
    }
    if (revocation.notAfter <= nowSeconds) {
      this.counters.revocationsOutlived++
      return
    }
    if (!verifyRevocation(revocation, communityId).ok) {
      this.drops['revocation-bad-signature']++
      this.refusalLog.pass(`refused (revocation-bad-signature): a revocation for community ${communityHex.slice(0, 8)} from ${this.where(address, port)}`, this.warn)
      return
    }
    if (this.revocations.add(communityHex, fingerprintHex, revocation.notAfter, nowSeconds) === 'full') {
      this.drops['revocations-full']++
      this.refusalLog.pass(`refused (revocations-full): a revocation for community ${communityHex.slice(0, 8)}: ${this.revocations.size} kept, the most there is room for`, this.warn)
      return
    }
    this.counters.revocationsAdded++
    const revoked = this.registry.findByFingerprint(communityHex, fingerprintHex)
    if (revoked !== undefined) {
      // the revoked member is told with the revocation itself before the ERROR: its signed cause
      // (disconnected, session ended) is what the member's edge says when it stops
      this.counters.revocationsForwarded++
      this.send(msg, revoked.address, revoked.port)
      this.unregister(revoked, ErrorCode.CertificateRevoked)
    }
    if (this.revocationLog.admit(this.info)) {
      this.log.info(
        `revoked certificate ${formatFingerprint(revocation.fingerprint)} serial ${revocation.serial} of community ${communityHex.slice(0, 8)}` +
          (revoked === undefined ? '' : `: removed edge ${formatEdgeId(revoked.edgeId)} "${revoked.name}"`),
      )
    }
    // the datagram as it came: the members check the authority's signature themselves
    for (const member of community.members.values()) {
      this.counters.revocationsForwarded++
      this.send(msg, member.address, member.port)
    }
  }

  /** ENROLL: asks go from a cookie-proved address to a registered device edge, answers back only to an address that asked. */
  private enroll(packet: EnrollPacket, address: string, port: number): void {
    if (packet.kind === EnrollKind.Ask) return this.enrollAsk(packet, address, port)
    if (packet.kind === EnrollKind.Answer) return this.enrollAnswer(packet, address, port)
    // offers and replies are what the supernode sends, never what it is sent
    this.drops['unexpected-type']++
  }

  /**
   * A technician's ask, from an address that is no member (it has no certificate yet): the cookie
   * first (a spoofed source gets nothing forwarded, so the device is never made to answer a victim),
   * then its source's rate, the device (registered in the community the ask names), the device's
   * rate from everyone together, and the exchange table. An ERROR answers only a bad cookie (with
   * the ask's nonce as proof, so that the technician fetches a new one) and an unknown device.
   */
  private enrollAsk(packet: EnrollAsk, address: string, port: number): void {
    const seen = this.seenAs(address, port)
    if (!this.cookies.check(this.nowSeconds(), packet.cookie, packet.clientNonce, cookieSubject(seen, port))) {
      this.refuse(ErrorCode.BadCookie, packet.clientNonce, NO_SUBJECT, address, port, null)
      return
    }
    const now = this.clock.now()
    if (!this.enrollSourceLimiter.allow(sourceKeyOf(address), now)) {
      this.drops['enroll-rate-limited']++
      return
    }
    const device = this.registry.edges.get(packet.deviceId)
    if (device === undefined || !device.community.id.equals(packet.communityId)) {
      this.drops['enroll-unknown-device']++
      // the device is not online (yet): the technician says so and keeps trying
      this.sendError(ErrorCode.UnknownPeer, packet.clientNonce, u53Bytes(packet.deviceId), address, port, now)
      return
    }
    if (!this.enrollDeviceLimiter.allow(String(packet.deviceId), now)) {
      this.drops['enroll-device-rate-limited']++
      return
    }
    const noted = this.enrollExchanges.note(packet.deviceId, packet.exchange, address, port, now)
    if (noted !== 'noted') {
      this.drops[noted === 'taken' ? 'enroll-exchange-taken' : 'enroll-table-full']++
      return
    }
    this.counters.enrollAsksForwarded++
    // a technician enrolling over a WebSocket has no registration to keep its connection open
    this.transport.asking(port)
    this.send(encodeEnrollOffer({ from: seen, exchange: packet.exchange, step: packet.step, message: packet.message }), device.address, device.port)
  }

  /** A device's answer: from where that device edge is registered, to the address that asked under the exchange within the window. */
  private enrollAnswer(packet: EnrollAnswer, address: string, port: number): void {
    if (this.registeredAt(packet.deviceId, address, port) === undefined) {
      this.drops['enroll-not-device']++
      return
    }
    const asker = this.enrollExchanges.askerOf(packet.deviceId, packet.exchange, this.clock.now())
    if (asker === null) {
      this.drops['enroll-unasked']++
      return
    }
    this.counters.enrollAnswersForwarded++
    this.send(encodeEnrollReply({ exchange: packet.exchange, step: packet.step, message: packet.message }), asker.address, asker.route)
  }

  /** Removes an edge whose certificate ended or was revoked, and tells it why (proof: its registration's nonce). */
  private unregister(edge: EdgeEntry, code: typeof ErrorCode.CertificateExpired | typeof ErrorCode.CertificateRevoked): void {
    this.registry.remove(edge)
    if (code === ErrorCode.CertificateExpired) this.counters.certificateExpirations++
    else this.counters.revokedEdgesRemoved++
    this.sendError(code, u64Bytes(edge.nonce), u53Bytes(edge.edgeId), edge.address, edge.port, this.clock.now())
  }

  /** Every second: edges whose certificates have ended are unregistered; once a minute, ended revocations are forgotten. */
  private endCertificates(): void {
    const now = this.clock.now()
    for (const edge of this.registry.expireCertificates(Math.floor(now / 1000))) {
      this.unregister(edge, ErrorCode.CertificateExpired)
      this.refusalLog.pass(`unregistered edge ${formatEdgeId(edge.edgeId)} "${edge.name}" community ${edge.community.idHex.slice(0, 8)}: its certificate ended at ${isoSeconds(edge.notAfter)}`, this.info)
    }
    if (now - this.lastRevocationPrune >= REVOCATION_PRUNE_MS) {
      this.lastRevocationPrune = now
      this.revocations.prune(Math.floor(now / 1000))
    }
  }

  /**
   * A RELAY (a prefix naming sender and destination around a session packet it cannot open) from
   * the endpoint its sender registered from: limited per edge (frames), then per
   * source address and per community (bytes out, a broadcast counting once per receiver), and
   * forwarded. False when the sender is not registered from here (or the header is bad): then the
   * datagram is a stranger's and goes through the control rate limiters first.
   * It does not refresh the sender's lastSeen: the supernode cannot tell a relayed frame from one
   * sent in the edge's name from its address, and edges keep sending keepalives while they relay.
   */
  private relayFromMember(msg: Buffer, address: string, port: number): boolean {
    if (readRelayHeader(msg, this.header) !== null) return false
    const sender = this.registry.edges.get(this.header.senderId)
    if (sender === undefined || sender.port !== port || sender.address !== address) return false
    this.counters.relayFramesIn++
    this.counters.relayBytesIn += msg.length
    const now = this.clock.now()
    if (!this.registry.relayAllowed(sender, now)) {
      this.drops['relay-rate-limited']++
      return true
    }
    sender.relayedFrames++
    sender.relayedBytes += msg.length
    const community = sender.community
    // destination 0 is every member, and readRelayHeader lets it carry only a BROADCAST
    if (this.header.destId === 0) {
      if (!this.spendRelayBudget(sender, msg.length * (community.members.size - 1), now)) return true
      for (const member of community.members.values()) {
        if (member !== sender) this.forward(msg, member)
      }
      return true
    }
    const dest = this.registry.edges.get(this.header.destId)
    if (dest === undefined || dest.community !== community) {
      this.drops['relay-unknown-dest']++
      // the sender holds a peer that is gone (its certificate ended, or it left): tell it, so that it
      // asks again; rate-limited per source (sendError), 20 bytes for a frame of 44 or more, with
      // its registration's nonce as the proof
      this.sendError(ErrorCode.UnknownPeer, u64Bytes(sender.nonce), u53Bytes(this.header.destId), address, port, now)
      return true
    }
    if (this.spendRelayBudget(sender, msg.length, now)) this.forward(msg, dest)
    return true
  }

  /** Takes `bytes` from the sender's source and community budgets, or nothing (and counts why) when either is short. */
  private spendRelayBudget(sender: EdgeEntry, bytes: number, now: number): boolean {
    const source = sender.source.relayBudget
    const community = sender.community.relayBudget
    if (!source.has(now, bytes)) {
      this.drops['relay-source-over-budget']++
      return false
    }
    if (!community.has(now, bytes)) {
      this.drops['relay-community-over-budget']++
      return false
    }
    source.spend(bytes)
    community.spend(bytes)
    return true
  }

  /** A RELAY that passed the control rate limiters but whose sender is not registered from here. */
  private relayFromStranger(msg: Buffer, address: string, port: number, now: number): void {
    const reason = readRelayHeader(msg, this.header)
    if (reason !== null) {
      this.drops[reason]++
      return
    }
    this.drops[this.registry.edges.has(this.header.senderId) ? 'relay-wrong-source' : 'relay-unknown-sender']++
    // after a restart of ours (or a NAT that moved the edge), this is how the edge learns to
    // register again at once: a hint (nothing in a RELAY is secret) that it checks with a
    // keepalive; a 20-byte ERROR, rate-limited per source (sendError), never more than it sent
    this.sendHint(u53Bytes(this.header.senderId), address, port, now)
  }

  private forward(msg: Buffer, to: EdgeEntry): void {
    this.counters.relayedFrames++
    this.counters.relayedBytes += msg.length
    this.send(msg, to.address, to.port)
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** The endpoint an edge is seen at, as edges are told it: its address and the port it sent from (its TCP port on a WebSocket). */
  private seenAs(address: string, route: number): Endpoint {
    return endpointOf(address, remotePortOf(route))
  }

  private onWebSocket(edge: EdgeEntry): boolean {
    return this.transport.transportOf(edge.port) !== 'udp'
  }

  /** For log lines: "1.2.3.4:5678", with the way in when it is not the first UDP port. */
  private where(address: string, route: number): string {
    const seen = formatHostPort({ host: address, port: remotePortOf(route) })
    const transport = this.transport.transportOf(route)
    return transport === 'udp' && route === remotePortOf(route) ? seen : `${seen} (${transport === 'udp' ? `UDP port ${this.transport.udpPorts()[socketIndexOf(route)]}` : transport})`
  }

  private registeredAt(edgeId: number, address: string, port: number): EdgeEntry | undefined {
    const edge = this.registry.edges.get(edgeId)
    return edge !== undefined && edge.port === port && edge.address === address ? edge : undefined
  }

  /** Counts a refusal, logs it (throttled) when `what` is given, and answers with a 20-byte ERROR (rate-limited). */
  private refuse(code: ErrorCode, proof: Buffer, subject: Buffer, address: string, port: number, what: string | null): void {
    const reason = REASON_OF_ERROR[code]
    this.drops[reason]++
    if (what !== null) this.refusalLog.pass(`refused (${reason}): ${what}`, this.warn)
    this.sendError(code, proof, subject, address, port, this.clock.now())
  }

  /**
   * An unknown-edge without proof (a hint): it goes out only while it leaves a token of the ERROR
   * limit for the proven answer it prompts (the edge's keepalive, answered with its sequence).
   * Otherwise an edge that keeps relaying into a restarted supernode would have its hints take every
   * token, and the answer that lets it register again would never get out.
   */
  private sendHint(subject: Buffer, address: string, port: number, now: number): void {
    const bucket = this.errorLimiter.bucketFor(`${address}:${port}`, now)
    if (!bucket.has(now, 2)) return
    bucket.spend(1)
    this.send(encodeError(ErrorCode.UnknownEdge, NO_PROOF, subject), address, port)
  }

  /** How ERRORs leave (a rate-limited packet asks the limiter itself): rate-limited per source, so a burst of bad packets gets few answers. */
  private sendError(code: ErrorCode, proof: Buffer, subject: Buffer, address: string, port: number, now: number): void {
    if (this.errorLimiter.allow(`${address}:${port}`, now)) this.send(encodeError(code, proof, subject), address, port)
  }

  private send(buf: Buffer, address: string, port: number): void {
    this.counters.packetsOut++
    this.counters.bytesOut += buf.length
    this.transport.send(buf, 0, buf.length, port, address)
  }

  private nowSeconds(): number {
    return Math.floor(this.clock.now() / 1000)
  }

  private expireSilent(): void {
    const cutoff = this.clock.now() - this.config.keepaliveSeconds * this.config.missedKeepalives * 1000
    for (const edge of this.registry.expire(cutoff)) {
      this.counters.expirations++
      this.log.info(`expired edge ${formatEdgeId(edge.edgeId)} community ${edge.community.idHex.slice(0, 8)} (silent for ${this.config.missedKeepalives} keepalive intervals)`)
    }
  }

  // ---- management --------------------------------------------------------------------------

  status(): SupernodeStatus {
    const now = this.clock.now()
    const ws = this.transport.ws
    const wsCounts = ws?.counts()
    return {
      port: this.port,
      udpPorts: this.udpPorts,
      websocket:
        ws === null || wsCounts === undefined
          ? null
          : {
              port: ws.local().port,
              transport: ws.kind,
              connections: wsCounts.open,
              pending: wsCounts.pending,
              accepted: ws.accepted,
              queuedBytes: wsCounts.queuedBytes,
              bufferedBytes: wsCounts.bufferedBytes,
              refused: { ...ws.refusals },
            },
      communities: this.registry.communities.size,
      edges: [...this.registry.edges.values()].map((e) => ({
        id: formatEdgeId(e.edgeId),
        community: e.community.idHex,
        mac: formatMac(macBytesOf(e.macKey)),
        ip: `${e.overlay.address}/${e.overlay.prefix}`,
        name: e.name,
        ipv6: e.ip6Key,
        fingerprint: formatFingerprint(Buffer.from(e.fingerprint, 'hex')),
        role: e.role,
        notAfter: isoSeconds(e.notAfter),
        endpoint: formatHostPort({ host: e.address, port: remotePortOf(e.port) }),
        transport: this.transport.transportOf(e.port),
        lastSeenMs: now - e.lastSeen,
        registeredAt: new Date(e.registeredAt).toISOString(),
        relayedFrames: e.relayedFrames,
      })),
      counters: { ...this.counters },
      drops: { ...this.drops },
      revocations: this.revocations.size,
      signatureChecks: { thread: this.verifier.mode === 'worker' ? 'worker' : 'main', waiting: this.verifier.waiting },
      memoryBoundBytes: this.memoryBound.bytes,
    }
  }

  metrics(): string {
    const m = new MetricsText()
    m.gauge('overlan_supernode_communities', 'Communities with at least one registered edge', this.registry.communities.size)
    m.gauge('overlan_supernode_edges', 'Registered edges', this.registry.edges.size)
    m.gauge('overlan_supernode_revocations', 'Revocations kept (every community together)', this.revocations.size)
    m.gauge('overlan_supernode_certificate_cache_entries', 'Certificates whose authority signature is cached as verified', this.certificates.size)
    m.gauge('overlan_supernode_signature_checks_waiting', 'Signature checks of registrations handed to the worker thread and not answered yet', this.verifier.waiting)
    m.gauge('overlan_supernode_memory_bound_bytes', 'The most memory the supernode can take at its configured limits', this.memoryBound.bytes)
    const ws = this.transport.ws
    if (ws !== null) {
      m.gauge('overlan_supernode_ws_connections', 'Open WebSocket connections', ws.counts().open)
      m.gauge('overlan_supernode_ws_pending', 'TCP connections before their WebSocket upgrade', ws.counts().pending)
      m.counter('overlan_supernode_ws_accepted_total', 'WebSocket connections accepted', ws.accepted)
      m.counters('overlan_supernode_ws_refused_total', 'WebSocket connections refused or cut and datagrams dropped on them, by reason', 'reason', ws.refusals)
    }
    writeCounterMetrics(m, SUPERNODE_COUNTERS, this.counters)
    m.counters('overlan_supernode_dropped_total', 'Packets refused, by reason', 'reason', this.drops)
    return m.toString()
  }
}

/** Binds every way in: the UDP ports (the first may be a test's transport) and the WebSocket listener; what was opened is closed again when one fails. */
async function openWays(config: SupernodeConfig, first: Transport | undefined, clock: Clock): Promise<MuxTransport> {
  const udp: Transport[] = []
  let ws: WsListener | null = null
  try {
    udp.push(first ?? (await listening(`UDP port ${config.port}`, bindUdpAny(config.port, config.bindAddress))))
    for (const port of config.extraPorts) udp.push(await listening(`UDP port ${port}`, bindUdpAny(port, config.bindAddress)))
    if (config.ws !== null) {
      const wsConfig = { ...config.ws, idleMs: config.keepaliveSeconds * config.missedKeepalives * 1000, addressKey: sourceKeyOf }
      ws = await listening(`TCP port ${config.ws.port}`, WsListener.start(wsConfig, clock))
    }
  } catch (err) {
    await Promise.all(udp.map((socket) => socket.close()))
    throw err
  }
  return new MuxTransport(udp, ws)
}

/** A bind's failure as one line naming the port and the likely fix (node's code kept on the error). */
async function listening<T>(what: string, opening: Promise<T>): Promise<T> {
  try {
    return await opening
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why =
      code === 'EADDRINUSE'
        ? 'already in use (another supernode?); choose another port'
        : code === 'EACCES'
          ? 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)'
          : (err as Error).message
    throw Object.assign(new Error(`cannot listen on ${what}: ${why}`, { cause: err }), { code })
  }
}

/** What a cookie is bound to: the endpoint as seen and the route, so that it is good only on the way it was sent. */
function cookieSubject(seen: Endpoint, route: number): Buffer {
  return Buffer.concat([encodeEndpoint(seen), u53Bytes(route)])
}

/** A certificate time (seconds since the epoch) as log lines and /status show it. */
function isoSeconds(seconds: number): string {
  // a certificate may say any time up to 2^53 - 1 s; Date ends in the year 275760
  const date = new Date(seconds * 1000)
  return Number.isNaN(date.getTime()) ? `${seconds} s after the epoch` : date.toISOString()
}

/** The member key of a registered edge, from its announcement's certificate (read when a DEREGISTER needs it, not kept apart). */
function memberKeyOf(edge: EdgeEntry): Buffer {
  const decoded = decodeAnnouncement(edge.announcement)
  // the registry holds only announcements that decoded when they came in
  if (!decoded.ok) throw new Error(`bug: a stored announcement does not decode (${decoded.reason})`)
  return decoded.value.certificate.memberKey
}
