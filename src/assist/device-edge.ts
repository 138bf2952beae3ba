// The device's edge for the assistance service: a real TAP device with forwarding disabled, the
// session's overlay address, and --allow if given, started as `overlan edge` starts one
// (startLinuxEdge); the edge runs in the service's process.
import type { AllowRules } from '../edge/allow-filter.js'
import type { Edge } from '../edge/edge.js'
import { startLinuxEdge } from '../edge/linux-edge.js'
import type { Logger } from '../log/logger.js'
import type { DeviceEdge, StartDeviceEdge } from './service.js'

export interface LinuxDeviceEdgeOptions {
  tapName: string
  mtu: number
  allow: AllowRules | null
  logger: Logger
}

export function linuxDeviceEdge(options: LinuxDeviceEdgeOptions): StartDeviceEdge {
  return async (config) => {
    const edge = await startLinuxEdge(
      { community: config.community, key: config.key, supernodes: config.supernodes, overlay: config.overlay, expiresAt: config.expiresAt, allow: options.allow, mgmt: null, name: 'device' },
      // the device's LAN addresses stay private: technicians reach it through the supernode's view of it
      { tapName: options.tapName, mac: config.mac, mtu: options.mtu, logger: options.logger, offerLanAddresses: false },
    )
    return wrapEdge(edge)
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
