// `overlan supernode`: the rendezvous and relay server, as with n2n's `supernode`.
import type { CommandModule } from 'yargs'
import { formatHostPort } from '../net/address.js'
import { secretMemory } from '../crypto/secure-memory.js'
import { streamLogger } from '../log/logger.js'
import { DEFAULT_SUPERNODE_CONFIG, DEFAULT_SUPERNODE_MGMT, DEFAULT_SUPERNODE_PORT, Supernode } from '../supernode/supernode.js'
import { parseSubnet } from '../supernode/auto-ip.js'
import { logLevel, mgmtListen, port, positiveInt, stopOnSignals } from './options.js'

interface SupernodeArgs {
  port: number
  bind?: string
  mgmt: string
  'mgmt-host-name'?: string[]
  'max-edges': number
  'max-communities': number
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
