// `overlan edge --userspace`: an edge without a TAP device, for a technician without root on any
// OS Node runs on. Its sockets are node:dgram's (no addon, no Linux-only call); it accepts no
// streams; the technician reaches the device through --forward listeners and a SOCKS5 listener.
import type { Server } from 'node:net'
import type { Logger } from '../../log/logger.js'
import { systemClock } from '../../time/clock.js'
import { formatHostPort, type HostPort } from '../../net/address.js'
import type { Credentials } from '../credentials.js'
import { Edge, type EdgeConfig } from '../edge.js'
import { listenForward, type ForwardSpec } from './forward.js'
import { NoTap } from './no-tap.js'
import { listenSocks5 } from './socks5.js'

export interface UserspaceOptions {
  /** the overlay address streams go to (the device's) */
  target: string
  forwards: ForwardSpec[]
  socks5: HostPort | null
  /** names a SOCKS5 CONNECT may use for an overlay address (device.overlan → 10.x.y.z) */
  names: ReadonlyMap<string, string>
  logger: Logger
}

/** Starts the edge and its listeners; a listener that cannot open stops the edge and rejects (one line). */
export async function startUserspaceEdge(config: EdgeConfig & { credentials: Credentials }, options: UserspaceOptions): Promise<Edge> {
  const { logger } = options
  const edge = await Edge.start({ ...config, streams: { accept: false } }, { tap: new NoTap(config.credentials.mac), logger, socketKind: 'dgram' })
  const servers: Server[] = []
  edge.on('stopped', () => {
    for (const server of servers) server.close()
  })
  try {
    for (const spec of options.forwards) {
      const { server, address } = await listenForward(edge.streams, options.target, spec)
      servers.push(server)
      logger.info(`forward ${formatHostPort(address)} -> ${options.target} port ${spec.remotePort}`)
    }
    if (options.socks5 !== null) {
      const targets = new Map<string, string>([[options.target, options.target]])
      for (const [name, ip] of options.names) {
        targets.set(name.toLowerCase(), ip)
        targets.set(ip, ip)
      }
      const { server, address } = await listenSocks5(edge.streams, options.socks5, { targets, clock: systemClock })
      servers.push(server)
      logger.info(`socks5 ${formatHostPort(address)} -> ${[...targets.keys()].join(', ')}`)
    }
  } catch (err) {
    await edge.stop('listener failed')
    throw err
  }
  return edge
}
