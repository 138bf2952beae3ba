// Whether this host could use IPv6 to the internet at all: a global unicast address on some
// interface (2000::/3). Link-local (fe80::/10), unique-local (fc00::/7) and loopback do not count.
import type { NetworkInterfaceInfo } from 'node:os'

export function hasGlobalIpv6(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): boolean {
  return Object.values(interfaces).some((list) => (list ?? []).some((a) => a.family === 'IPv6' && !a.internal && isGlobalIpv6(a.address)))
}

export function isGlobalIpv6(address: string): boolean {
  const first = parseInt(address.split(':')[0] ?? '', 16)
  // 2000::/3: the first 16-bit group is 0x2000 to 0x3fff
  return Number.isFinite(first) && address.includes(':') && first >= 0x2000 && first <= 0x3fff
}

/** The host's own addresses (IPv4 and IPv6): a supernode that sees one of them sees us without NAT. */
export function localAddresses(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): Set<string> {
  const set = new Set<string>()
  for (const list of Object.values(interfaces)) for (const a of list ?? []) set.add(a.address)
  return set
}
