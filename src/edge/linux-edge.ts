// An edge on a real Linux TAP device, started the one way both `overlan edge` and the assistance
// service's device use: open the TAP → forwarding off, router advertisements, redirects and ARP for
// other interfaces off (tap/forwarding.ts) → overlay address → Edge.start, then keep
// /status's forwarding figures live and put an address the supernode assigns on the device. Every
// failure before the edge runs removes the TAP device again and is a DeviceError (the CLI's exit 2).
import { networkInterfaces } from 'node:os'
import type { Logger } from '../log/logger.js'
import { disableForwarding, hardenTap, readForwarding, type ForwardingState } from '../tap/forwarding.js'
import { TapError, openLinuxTap, type LinuxTap } from '../tap/linux-tap.js'
import type { OverlayAddress } from '../wire/index.js'
import { Edge, type EdgeConfig } from './edge.js'
import type { LocalAddress } from './own-subnets.js'

/** /status re-reads the forwarding sysctls this often: a later `sysctl net.ipv4.ip_forward=1` resets them, and /status must show that. */
const FORWARDING_REFRESH_MS = 1_000

/** The device could not be set up (no TAP, a sysctl or an address refused): the message names the fix. */
export class DeviceError extends Error {
  override readonly name = 'DeviceError'
}

export interface LinuxEdgeOptions {
  tapName: string
  /** the TAP's MAC (default: random) */
  mac?: Buffer
  mtu: number
  logger: Logger
  /** offer this host's LAN addresses to peers as direct candidates (edges on the same LAN meet directly) */
  offerLanAddresses: boolean
}

export async function startLinuxEdge(config: EdgeConfig, options: LinuxEdgeOptions): Promise<Edge> {
  const { logger } = options
  let tap: LinuxTap
  try {
    tap = await openLinuxTap({ name: options.tapName, mac: options.mac, mtu: options.mtu })
  } catch (err) {
    if (err instanceof TapError) throw new DeviceError(err.message, { cause: err })
    throw err
  }
  let forwarding: ForwardingState
  try {
    forwarding = await disableForwarding(tap.name)
    await hardenTap(tap.name)
    if (config.overlay) await tap.addAddress(`${config.overlay.address}/${config.overlay.prefix}`)
    // a certificate's IPv6 overlay address (an authority's --ip6) goes on the device as its IPv4 does
    const ipv6 = config.credentials?.certificate.ipv6
    if (ipv6) await tap.addAddress(`${ipv6.address}/${ipv6.prefix}`)
  } catch (err) {
    await tap.close()
    throw new DeviceError((err as Error).message, { cause: err })
  }
  logger.info(`${tap.name}: forwarding disabled (ipv4 ${forwarding.ipv4}, ipv6 ${forwarding.ipv6 ?? 'n/a'}); no router advertisements or redirects accepted, ARP answered for its own address only`)

  const edge = await Edge.start(options.offerLanAddresses ? { ...config, localAddresses: lanAddresses(tap.name) } : config, {
    tap,
    logger,
    hostStatus: () => ({ forwarding, tapStats: { ...tap.stats, superFrames: tap.superFrames } }),
  }).catch(async (err: unknown) => {
    await tap.close()
    throw err
  })
  const refresh = setInterval(() => void readForwarding(tap.name).then((f) => (forwarding = f)), FORWARDING_REFRESH_MS)
  refresh.unref()
  edge.on('overlay', (overlay: OverlayAddress) => {
    tap.addAddress(`${overlay.address}/${overlay.prefix}`).catch((err: unknown) => logger.error(`cannot set ${overlay.address} on ${tap.name}: ${(err as Error).message}`))
  })
  edge.on('stopped', () => clearInterval(refresh))
  return edge
}

/**
 * This host's own addresses with their prefixes, but the TAP's, loopback and IPv6 link-local ones:
 * the edge offers the first four to peers, and probes a peer's LAN candidates only inside these subnets.
 */
function lanAddresses(tapName: string): LocalAddress[] {
  const result: LocalAddress[] = []
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    if (name === tapName) continue
    for (const a of addresses ?? []) {
      if (a.internal || (a.family === 'IPv6' && a.address.startsWith('fe80')) || a.cidr === null) continue
      result.push({ address: a.address, prefix: Number(a.cidr.slice(a.cidr.indexOf('/') + 1)) })
    }
  }
  return result
}
