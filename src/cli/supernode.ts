// `overlan supernode`: the rendezvous and relay server, as with n2n's `supernode`.
import { availableParallelism } from 'node:os'
import type { CommandModule } from 'yargs'
import { formatHostPort } from '../net/address.js'
import { secretMemory } from '../crypto/secure-memory.js'
import { streamLogger } from '../log/logger.js'
import { DEFAULT_WS_MAX_CONNECTIONS, DEFAULT_WS_MAX_PER_ADDRESS, WS_PATH } from '../net/ws-listener.js'
import { DEFAULT_SUPERNODE_CONFIG, DEFAULT_SUPERNODE_MGMT, DEFAULT_SUPERNODE_PORT, Supernode, type SupernodeWsConfig } from '../supernode/supernode.js'
import { parseSubnet } from '../supernode/auto-ip.js'
import type { RateLimit } from '../supernode/rate-limit.js'
import { MAX_PACKET_BYTES } from '../wire/index.js'
import { CliError } from './errors.js'
import { logLevel, mgmtListen, pemFile, port, positiveInt, stopOnSignals } from './options.js'
import { COMMAND_DESCRIPTIONS } from './commands.js'

/** A relay budget's burst: an eighth of a second at its rate (never below one datagram). */
const BURST_SECONDS = 1 / 8
const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }

/** "128M", "1G", "500000": bytes per second (K, M, G are powers of 1024). */
function byteRate(name: string, value: unknown): RateLimit {
  const match = /^(\d+)([kmg]?)i?b?$/i.exec(String(value).trim())
  const perSecond = match ? Number(match[1]) * UNITS[match[2]!.toLowerCase()]! : NaN
  if (!Number.isSafeInteger(perSecond) || perSecond < MAX_PACKET_BYTES) throw new Error(`--${name} must be bytes per second of at least ${MAX_PACKET_BYTES} (K, M, G allowed: 128M), got ${String(value)}`)
  return { perSecond, burst: Math.max(MAX_PACKET_BYTES, Math.floor(perSecond * BURST_SECONDS)) }
}

function mebibytes(bytes: number): string {
  return `${bytes / 1024 ** 2}M`
}

/** -p given once or more: every port checked, none twice (0, any free port, may repeat). */
function udpPorts(values: unknown): number[] {
  const ports = [values].flat().map((value) => port('port', value))
  const twice = ports.find((p, i) => p !== 0 && ports.indexOf(p) !== i)
  if (twice !== undefined) throw new CliError(`--port ${twice} is given twice`)
  return ports
}

/** --tcp-port with --tls-cert/--tls-key and --trust-proxy: the WebSocket listener, or null. */
function wsListen(args: SupernodeArgs): SupernodeWsConfig | null {
  const cert = args['tls-cert']
  const key = args['tls-key']
  if ((cert === undefined) !== (key === undefined)) throw new CliError('--tls-cert and --tls-key go together: give both (PEM files) or neither')
  if (args['tcp-port'] === undefined) {
    if (cert !== undefined || args['trust-proxy'] === true || args['tcp-bind'] !== undefined) throw new CliError('--tls-cert, --tls-key, --tcp-bind and --trust-proxy need --tcp-port (the WebSocket listener)')
    return null
  }
  return {
    port: port('tcp-port', args['tcp-port']),
    bindAddress: args['tcp-bind'] ?? args.bind,
    tls: cert === undefined || key === undefined ? null : { cert: pemFile('--tls-cert', cert), key: pemFile('--tls-key', key) },
    trustProxy: args['trust-proxy'] === true,
    maxConnections: positiveInt('ws-max-connections', args['ws-max-connections'], 1_000_000),
    maxPerAddress: positiveInt('ws-max-per-address', args['ws-max-per-address'], 1_000_000),
  }
}

interface SupernodeArgs {
  port: number | number[]
  'tcp-port'?: number
  'tcp-bind'?: string
  'tls-cert'?: string
  'tls-key'?: string
  'trust-proxy'?: boolean
  'ws-max-connections': number
  'ws-max-per-address': number
  bind?: string
  mgmt: string
  'mgmt-host-name'?: string[]
  'max-edges': number
  'max-communities': number
  'max-edges-total': number
  'max-edges-per-endpoint': number
  'max-edges-per-address': number
  'relay-budget-source': string
  'relay-budget-community': string
  'max-tracked-sources': number
  'auto-ip': string
  keepalive: number
  'expire-after': number
  'signature-worker': boolean
  'log-level': string
}

export const supernodeCommand: CommandModule<object, SupernodeArgs> = {
  command: 'supernode',
  describe: COMMAND_DESCRIPTIONS.supernode,
  builder: (y) =>
    y
      .option('port', {
        alias: 'p',
        type: 'number',
        default: DEFAULT_SUPERNODE_PORT,
        describe: 'UDP port to listen on; repeat for several (-p 7654 -p 443), one registry behind all, each edge answered from the port it came in on',
      })
      .option('tcp-port', {
        type: 'number',
        describe: `also accept edges over WebSocket on this TCP port, path ${WS_PATH} (for networks that block UDP): TLS with --tls-cert/--tls-key, else plain behind a reverse proxy that terminates TLS`,
      })
      .option('tcp-bind', { type: 'string', describe: 'address the WebSocket listener binds (default: as --bind); 127.0.0.1 behind a reverse proxy on the same host' })
      .option('tls-cert', { type: 'string', describe: 'PEM certificate (chain) for the WebSocket listener: it speaks TLS (wss://) itself' })
      .option('tls-key', { type: 'string', describe: 'PEM private key of --tls-cert' })
      .option('trust-proxy', {
        type: 'boolean',
        describe: 'the WebSocket listener sits behind a reverse proxy: count per-address limits by the client address it forwards (last X-Forwarded-For entry, or X-Real-IP); never on a port the internet reaches directly',
      })
      .option('ws-max-connections', { type: 'number', default: DEFAULT_WS_MAX_CONNECTIONS, describe: 'most TCP connections to the WebSocket listener at once (part of the memory bound)' })
      .option('ws-max-per-address', {
        type: 'number',
        default: DEFAULT_WS_MAX_PER_ADDRESS,
        describe: 'most WebSocket connections from one client address (an IPv6 /64 counts as one)',
      })
      .option('bind', { type: 'string', describe: 'address the UDP ports (and, without --tcp-bind, the WebSocket listener) bind (default: every address, IPv4 and IPv6)' })
      .option('mgmt', { type: 'string', default: formatHostPort(DEFAULT_SUPERNODE_MGMT), describe: 'management HTTP (GET /status, /metrics) host:port, or "off"' })
      .option('mgmt-host-name', { type: 'string', array: true, describe: 'a further name the management listener answers to in the Host header (repeat for several); its address, and localhost on loopback, always work' })
      .option('max-edges', { type: 'number', default: DEFAULT_SUPERNODE_CONFIG.maxEdgesPerCommunity, describe: 'most edges per community' })
      .option('max-communities', { type: 'number', default: DEFAULT_SUPERNODE_CONFIG.maxCommunities, describe: 'most communities at once' })
      .option('max-edges-total', {
        type: 'number',
        default: DEFAULT_SUPERNODE_CONFIG.maxEdges,
        describe: 'most edges of all communities together (with --max-communities, what bounds memory: the bound is logged at start and in /status)',
      })
      .option('max-edges-per-endpoint', { type: 'number', default: DEFAULT_SUPERNODE_CONFIG.maxEdgesPerEndpoint, describe: 'most edges registered from one source address and port' })
      .option('max-edges-per-address', {
        type: 'number',
        default: DEFAULT_SUPERNODE_CONFIG.maxEdgesPerAddress,
        describe: 'most edges registered from one source address (an IPv6 /64 counts as one address)',
      })
      .option('relay-budget-source', {
        type: 'string',
        default: mebibytes(DEFAULT_SUPERNODE_CONFIG.relayBytesPerSource.perSecond),
        describe: 'bytes per second the relay sends for one source address (IPv6: /64), a broadcast counting once per receiver; bursts of 1/8 s; K, M, G allowed',
      })
      .option('relay-budget-community', {
        type: 'string',
        default: mebibytes(DEFAULT_SUPERNODE_CONFIG.relayBytesPerCommunity.perSecond),
        describe: 'bytes per second the relay sends to one community, broadcasts counted once per receiver; bursts of 1/8 s; K, M, G allowed',
      })
      .option('max-tracked-sources', {
        type: 'number',
        default: DEFAULT_SUPERNODE_CONFIG.maxTrackedSources,
        describe: 'source addresses each rate limiter and relay budget table keeps (part of the memory bound)',
      })
      .option('auto-ip', { type: 'string', default: DEFAULT_SUPERNODE_CONFIG.autoIpRange, describe: 'range for automatic overlay addresses (a /24 per community)' })
      .option('keepalive', { type: 'number', default: DEFAULT_SUPERNODE_CONFIG.keepaliveSeconds, describe: 'seconds between keepalives that edges are told to keep' })
      .option('expire-after', { type: 'number', default: DEFAULT_SUPERNODE_CONFIG.missedKeepalives, describe: 'expire an edge after this many keepalive intervals of silence' })
      .option('signature-worker', {
        type: 'boolean',
        default: availableParallelism() > 1,
        describe: 'verify registrations\' signatures on a second thread (default: on where the machine has more than one core); --no-signature-worker keeps them on the main thread',
      })
      .option('log-level', { type: 'string', default: 'info', describe: 'debug, info, warn, error or silent' })
      .example('$0 supernode -p 7654', 'listen on UDP 7654, management on 127.0.0.1:5645')
      .example('$0 supernode -p 7654 -p 443 --tcp-port 443 --tls-cert cert.pem --tls-key key.pem', 'UDP 7654 and 443, and WebSocket over TLS on TCP 443 for edges whose network blocks UDP'),
  handler: async (args) => {
    const mgmt = mgmtListen(args.mgmt, args['mgmt-host-name'], DEFAULT_SUPERNODE_MGMT)
    const [first, ...extraPorts] = udpPorts(args.port)
    const config = {
      port: first!,
      extraPorts,
      ws: wsListen(args),
      bindAddress: args.bind,
      mgmt,
      maxEdgesPerCommunity: positiveInt('max-edges', args['max-edges'], 1_000_000),
      maxCommunities: positiveInt('max-communities', args['max-communities'], 1_000_000),
      maxEdges: positiveInt('max-edges-total', args['max-edges-total'], 10_000_000),
      maxEdgesPerEndpoint: positiveInt('max-edges-per-endpoint', args['max-edges-per-endpoint'], 1_000_000),
      maxEdgesPerAddress: positiveInt('max-edges-per-address', args['max-edges-per-address'], 10_000_000),
      relayBytesPerSource: byteRate('relay-budget-source', args['relay-budget-source']),
      relayBytesPerCommunity: byteRate('relay-budget-community', args['relay-budget-community']),
      maxTrackedSources: positiveInt('max-tracked-sources', args['max-tracked-sources'], 10_000_000),
      autoIpRange: args['auto-ip'],
      keepaliveSeconds: positiveInt('keepalive', args.keepalive, 3600),
      missedKeepalives: positiveInt('expire-after', args['expire-after'], 100),
      signatureWorker: args['signature-worker'],
    }
    try {
      parseSubnet(config.autoIpRange)
    } catch (err) {
      throw new Error(`--auto-ip: ${(err as Error).message}`, { cause: err })
    }
    const logger = streamLogger(logLevel(args['log-level']))
    secretMemory.reportTo(logger)
    // a port that cannot be had fails with one line naming it (Supernode.start says which)
    const node = await Supernode.start(config, { logger })
    if (mgmt !== null) logger.info(`management on http://${formatHostPort(node.mgmtAddress!)}/status and /metrics`)
    stopOnSignals(async () => {
      logger.info('stopping')
      await node.stop()
    })
  },
}
