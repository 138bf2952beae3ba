// The device's edge for the assistance service: a real TAP device with forwarding disabled, the
// session's overlay address, and --allow (or the session's allow) if given, started as `overlan
// edge` starts one (startLinuxEdge); the edge runs in the service's process. It is a member of the
// session's authority community with the device's certificate, and answers technicians'
// enrollment requests with the service's decisions. Its identity key is the device's own, from the
// state file, so a restarted service's edge is the same member and takes its place at once (the
// supernode and the technicians' edges replace a holder of the same key without waiting).
import { destroyIdentity, identityFromSeed } from '../crypto/identity.js'
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
    const edge = await withDeviceIdentity(config, (edgeConfig) =>
      startLinuxEdge(
        // the technician's streams are what the session is for; its allow rules limit them
        { ...edgeConfig, allow: config.allow !== undefined ? config.allow : options.allow, mgmt: options.mgmt, fallback: options.fallback, streams: { accept: true } },
        // the device's LAN addresses stay private: technicians reach it through the supernode's view of it
        { tapName: options.tapName, mac: config.mac, mtu: options.mtu, logger: options.logger, offerLanAddresses: false },
      ),
    )
    return wrapEdge(edge)
  }
}

/** The session's edge on a TAP device the caller made (tests: a MemoryTap), keys handled as on the device. */
export function startSessionEdge(config: DeviceEdgeConfig, options: Partial<EdgeConfig>, deps: EdgeDeps): Promise<Edge> {
  return withDeviceIdentity(config, (edgeConfig) => Edge.start({ ...edgeConfig, streams: { accept: true }, ...(config.allow !== undefined ? { allow: config.allow } : {}), ...options }, deps))
}

/** Starts the edge with a copy of the device's identity key: the edge destroys it when it stops, and here when it fails to start. */
async function withDeviceIdentity(config: DeviceEdgeConfig, start: (edgeConfig: EdgeConfig) => Promise<Edge>): Promise<Edge> {
  const edgeConfig = sessionEdgeConfig(config)
  try {
    return await start(edgeConfig)
  } catch (err) {
    destroyIdentity(edgeConfig.identity!)
    throw err
  }
}

function sessionEdgeConfig(config: DeviceEdgeConfig): EdgeConfig {
  // the device is the party most likely to sit on a network that blocks UDP: it falls back as
  // `overlan edge --fallback` does (the URLs were checked when the service started)
  const supernodes = pairFallbacks(
    config.supernodes,
    config.fallbacks.map((url) => new URL(url)),
  )
  // a copy of the seed's key pair: the edge destroys it when it stops, the service keeps the seed for a restart
  return {
    identity: identityFromSeed(config.identity),
    certificate: config.certificate,
    revocations: config.revocations,
    enrollment: config.enrollment,
    supernodes,
    overlay: config.overlay,
    expiresAt: config.expiresAt,
  }
}

/** An Edge as the service sees it. */
export function wrapEdge(edge: Edge): DeviceEdge {
  return {
    status: () => edge.status(),
    stop: (why) => edge.stop(why),
    onStopped: (listener) => void edge.on('stopped', listener),
    setRevocations: (revocations) => edge.setRevocations(revocations),
    deliverReceipt: (text, timeoutMs) => edge.deliverReceipt(text, timeoutMs),
  }
}
