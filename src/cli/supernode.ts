// `overlan supernode`: the rendezvous and relay server, as with n2n's `supernode`.
import type { CommandModule } from 'yargs'
import { formatHostPort } from '../net/address.js'
import { secretMemory } from '../crypto/secure-memory.js'
import { streamLogger } from '../log/logger.js'
import { DEFAULT_SUPERNODE_CONFIG, DEFAULT_SUPERNODE_MGMT, DEFAULT_SUPERNODE_PORT, Supernode } from '../supernode/supernode.js'
import { parseSubnet } from '../supernode/auto-ip.js'
import type { RateLimit } from '../supernode/rate-limit.js'
import { MAX_PACKET_BYTES } from '../wire/index.js'
import { logLevel, mgmtListen, port, positiveInt, stopOnSignals } from './options.js'

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

interface SupernodeArgs {
  port: number
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
  'log-level': string
}

export const supernodeCommand: CommandModule<object, SupernodeArgs> = {
  command: 'supernode',
  describe: 'Run a supernode: registers edges, introduces them for hole punching, relays what cannot go direct',
  builder: (y) =>
    y
      .option('port', { alias: 'p', type: 'number', default: DEFAULT_SUPERNODE_PORT, describe: 'UDP port to listen on' })
      .option('bind', { type: 'string', describe: 'address to bind (default: every address, IPv4 and IPv6)' })
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
      .option('log-level', { type: 'string', default: 'info', describe: 'debug, info, warn, error or silent' })
      .example('$0 supernode -p 7654', 'listen on UDP 7654, management on 127.0.0.1:5645'),
  handler: async (args) => {
    const mgmt = mgmtListen(args.mgmt, args['mgmt-host-name'], DEFAULT_SUPERNODE_MGMT)
    const config = {
      port: port('port', args.port),
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
    }
    try {
      parseSubnet(config.autoIpRange)
    } catch (err) {
      throw new Error(`--auto-ip: ${(err as Error).message}`, { cause: err })
    }
    const logger = streamLogger(logLevel(args['log-level']))
    secretMemory.reportTo(logger)
    let node: Supernode
    try {
      node = await Supernode.start(config, { logger })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EADDRINUSE') throw new Error(`cannot listen on UDP port ${config.port}: already in use (another supernode?); choose another with -p`, { cause: err })
      if (code === 'EACCES') throw new Error(`cannot listen on UDP port ${config.port}: permission denied (ports below 1024 need root)`, { cause: err })
      throw err
    }
    if (mgmt !== null) logger.info(`management on http://${formatHostPort(node.mgmtAddress!)}/status and /metrics`)
    stopOnSignals(async () => {
      logger.info('stopping')
      await node.stop()
    })
  },
}
