// The device's edge for the assistance service: a real TAP device with forwarding disabled, the
// session's overlay address, and --allow if given, started as `overlan edge` starts one
// (startLinuxEdge); the edge runs in the service's process. Its keys are derived from the session
// key's bytes (no key string is made) and zeroed when the edge stops.
import { deriveCommunityKeys, destroyKeys, type CommunityKeys } from '../crypto/keys.js'
import type { AllowRules } from '../edge/allow-filter.js'
import { Edge, type EdgeConfig, type EdgeDeps, type FallbackOptions } from '../edge/edge.js'
import { startLinuxEdge } from '../edge/linux-edge.js'
import type { Logger } from '../log/logger.js'
import { pairFallbacks, type HostPort } from '../net/address.js'
import type { DeviceEdge, DeviceEdgeConfig, StartDeviceEdge } from './service.js'

/**
 * The device edge's management listener (GET /status, /metrics; `overlan status` reads it): not
 * 5644, so that an `overlan edge` on the same host keeps its own, nor 5645 (the supernode's).
 */
export const DEFAULT_ASSIST_EDGE_MGMT: HostPort = { host: '127.0.0.1', port: 5646 }

export interface LinuxDeviceEdgeOptions {
  tapName: string
  mtu: number
  allow: AllowRules | null
  /** the edge's management listener, or null for none */
  mgmt: HostPort | null
  /** how its fallbacks are opened (--ca-file, HTTPS_PROXY) */
  fallback: FallbackOptions
  logger: Logger
}

export function linuxDeviceEdge(options: LinuxDeviceEdgeOptions): StartDeviceEdge {
  return async (config) => {
    const edge = await withSessionKeys(config, (keys) =>
      startLinuxEdge(
        { ...sessionEdgeConfig(config, keys), allow: options.allow, mgmt: options.mgmt, fallback: options.fallback },
        // the device's LAN addresses stay private: technicians reach it through the supernode's view of it
        { tapName: options.tapName, mac: config.mac, mtu: options.mtu, logger: options.logger, offerLanAddresses: false },
      ),
    )
    return wrapEdge(edge)
  }
}

/** The session's edge on a TAP device the caller made (tests: a MemoryTap), keys handled as on the device. */
export function startSessionEdge(config: DeviceEdgeConfig, options: Partial<EdgeConfig>, deps: EdgeDeps): Promise<Edge> {
  return withSessionKeys(config, (keys) => Edge.start({ ...sessionEdgeConfig(config, keys), ...options }, deps))
}

/** Derives the session's keys, starts the edge with them, and zeroes them when it stops or fails to start. */
async function withSessionKeys(config: DeviceEdgeConfig, start: (keys: CommunityKeys) => Promise<Edge>): Promise<Edge> {
  const keys = await deriveCommunityKeys(config.community, config.key)
  try {
    const edge = await start(keys)
    edge.on('stopped', () => destroyKeys(keys))
    return edge
  } catch (err) {
    destroyKeys(keys)
    throw err
  }
}

function sessionEdgeConfig(config: DeviceEdgeConfig, keys: CommunityKeys): EdgeConfig {
  // the device is the party most likely to sit on a network that blocks UDP: it falls back as
  // `overlan edge --fallback` does (the URLs were checked when the service started)
  const supernodes = pairFallbacks(
    config.supernodes,
    config.fallbacks.map((url) => new URL(url)),
  )
  return { community: config.community, keys, supernodes, overlay: config.overlay, expiresAt: config.expiresAt, name: 'device' }
}

/** An Edge as the service sees it. */
export function wrapEdge(edge: Edge): DeviceEdge {
  return {
    status: () => edge.status(),
    stop: (why) => edge.stop(why),
    onStopped: (listener) => void edge.on('stopped', listener),
  }
}
