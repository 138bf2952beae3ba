// n2n-style automatic overlay addresses. A community's subnet is the one of the first member that
// registered with an address of its own (so a technician lands next to the device it assists);
// without one, a /24 chosen by hashing the community ID out of the supernode's range. Inside the
// subnet an edge's address is picked from a start point derived from its edge ID, so that the same
// edge gets the same address again from this or another supernode.
import { ipv4Value } from '../wire/index.js'

export interface Subnet {
  /** network address as a 32-bit unsigned number */
  network: number
  prefix: number
}

export function ipv4ToNumber(address: string): number {
  return ipv4Value(address)
}

export function numberToIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

export function subnetOf(address: string, prefix: number): Subnet {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  return { network: (ipv4ToNumber(address) & mask) >>> 0, prefix }
}

export function parseSubnet(cidr: string): Subnet {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr)
  if (!match || Number(match[2]) > 30 || match[1]!.split('.').some((o) => Number(o) > 255)) throw new RangeError(`not an IPv4 range a.b.c.d/p (p ≤ 30): ${cidr}`)
  return subnetOf(match[1]!, Number(match[2]))
}

/** The /24 (or smaller range's own prefix) a community gets from the range when nobody set one. */
export function defaultSubnet(range: Subnet, communityId: Buffer, communityPrefix = 24): Subnet {
  if (range.prefix >= communityPrefix) return { network: range.network, prefix: range.prefix }
  const count = 2 ** (communityPrefix - range.prefix)
  const index = communityId.readUInt32BE(0) % count
  return { network: (range.network + index * 2 ** (32 - communityPrefix)) >>> 0, prefix: communityPrefix }
}

/**
 * The first free host address at or after the edge's own start point, wrapping around; null when
 * the subnet is full. Network and broadcast addresses are never handed out.
 */
export function pickAddress(subnet: Subnet, edgeId: number, taken: (ip: number) => boolean): number | null {
  const hosts = 2 ** (32 - subnet.prefix) - 2
  if (hosts < 1) return null
  const start = edgeId % hosts
  for (let i = 0; i < hosts; i++) {
    const ip = (subnet.network + 1 + ((start + i) % hosts)) >>> 0
    if (!taken(ip)) return ip
  }
  return null
}

export function inSubnet(ip: number, subnet: Subnet): boolean {
  const mask = subnet.prefix === 0 ? 0 : (0xffffffff << (32 - subnet.prefix)) >>> 0
  return ((ip & mask) >>> 0) === subnet.network
}
