// The device's edge for the assistance service: a real TAP device with forwarding disabled, the
// session's overlay address, and --allow if given; the edge runs in the service's process.
import { deriveCommunityKeys, destroyKeys } from '../crypto/keys.js'
import type { AllowRules } from '../edge/allow-filter.js'
import { Edge, type EdgeConfig, type EdgeDeps } from '../edge/edge.js'
import type { Logger } from '../log/logger.js'
import { disableForwarding, readForwarding, type ForwardingState } from '../tap/forwarding.js'
import { openLinuxTap } from '../tap/linux-tap.js'
import type { DeviceEdge, DeviceEdgeConfig, StartDeviceEdge } from './service.js'

export interface LinuxDeviceEdgeOptions {
  tapName: string
  mtu: number
  allow: AllowRules | null
  logger: Logger
}

export function linuxDeviceEdge(options: LinuxDeviceEdgeOptions): StartDeviceEdge {
  return async (config) => {
    const tap = await openLinuxTap({ name: options.tapName, mtu: options.mtu, mac: config.mac })
    let forwarding: ForwardingState
    try {
      forwarding = await disableForwarding(tap.name)
      await tap.addAddress(`${config.overlay.address}/${config.overlay.prefix}`)
    } catch (err) {
      await tap.close()
      throw err
    }
    const edge = await startSessionEdge(config, { allow: options.allow, mgmt: null }, { tap, logger: options.logger, hostStatus: () => ({ forwarding }) }).catch(async (err: unknown) => {
      await tap.close()
      throw err
    })
    const refresh = setInterval(() => void readForwarding(tap.name).then((f) => (forwarding = f)), 1000)
    refresh.unref()
    edge.on('stopped', () => clearInterval(refresh))
    return wrapEdge(edge)
  }
}

/**
 * Starts the session's edge with community keys derived here from the session secret's bytes (so
 * that no string of the key is made for the edge to hold), and zeroes those keys when the edge
 * stops or fails to start. The edge zeroes its own identity key itself.
 */
export async function startSessionEdge(config: DeviceEdgeConfig, options: Partial<EdgeConfig>, deps: EdgeDeps): Promise<Edge> {
  const keys = await deriveCommunityKeys(config.community, config.key)
  try {
    const edge = await Edge.start(
      { community: config.community, keys, supernodes: config.supernodes, overlay: config.overlay, expiresAt: config.expiresAt, name: 'device', ...options },
      deps,
    )
    edge.on('stopped', () => destroyKeys(keys))
    return edge
  } catch (err) {
    destroyKeys(keys)
    throw err
  }
}

/** An Edge as the service sees it. */
export function wrapEdge(edge: Edge): DeviceEdge {
  return {
    status: () => edge.status(),
    stop: (why) => edge.stop(why),
    onStopped: (listener) => void edge.on('stopped', listener),
  }
}
