// The subnets of this host's own interfaces, as the edge was given them (EdgeConfig.localAddresses):
// a peer's LAN candidate is worth probing only when it lies inside one of them, since only then can
// a datagram to it reach the peer on a LAN we share. Anything else a record names (another LAN, a
// host on the internet, loopback) is an address a member chose for us to send to.
import { BlockList } from 'node:net'
import { ipFamily, ipv4Value } from '../wire/index.js'

/** One of this host's addresses with its prefix length (os.networkInterfaces()'s `cidr`). */
export interface LocalAddress {
  address: string
  prefix: number
}

/** Checks EdgeConfig.localAddresses: a one-line error naming the field and the entry at fault. */
export function checkLocalAddresses(addresses: readonly LocalAddress[]): void {
  for (const [i, a] of addresses.entries()) {
    const family = ipFamily(a.address)
    if (family === null) throw new RangeError(`localAddresses[${i}]: not an IP address: ${a.address}`)
    const max = family === 4 ? 32 : 128
    if (!Number.isInteger(a.prefix) || a.prefix < 0 || a.prefix > max) throw new RangeError(`localAddresses[${i}]: prefix must be 0 to ${max}: ${a.prefix}`)
  }
}

export class OwnSubnets {
  private readonly inside = new BlockList()
  /** IPv4 network and broadcast addresses of our subnets, as numbers: a datagram there is for no one peer, or for every host */
  private readonly excluded = new Set<number>()
  readonly count: number

  constructor(addresses: readonly LocalAddress[]) {
    for (const a of addresses) {
      const family = ipFamily(a.address) === 4 ? 'ipv4' : 'ipv6'
      this.inside.addSubnet(a.address, a.prefix, family)
      if (family === 'ipv4' && a.prefix <= 30) {
        const hostBits = 32 - a.prefix
        const network = Math.floor(ipv4Value(a.address) / 2 ** hostBits) * 2 ** hostBits
        this.excluded.add(network)
        this.excluded.add(network + 2 ** hostBits - 1)
      }
    }
    this.count = addresses.length
  }

  /** Whether `address` is a host inside one of our own subnets. */
  contains(address: string): boolean {
    const family = ipFamily(address)
    if (family === null) return false
    if (family === 4 && this.excluded.has(ipv4Value(address))) return false
    return this.inside.check(address, family === 4 ? 'ipv4' : 'ipv6')
  }
}
