// What a peer's certificate lets its frames claim to be: one MAC, its IPv4 overlay address (or
// none), its IPv6 overlay address (or none) and the link-local address its MAC gives it. The frame
// filter (frame-filter.ts) compares every decrypted frame's source addresses with these, so a
// member can speak only as the addresses its certificate binds, whatever it writes in a frame.
import { ipv4Value, macKeyAt, writeIPv6, type OverlayAddress } from '../wire/index.js'

/** What a certificate binds, as the binding needs it (a decoded Certificate has these fields). */
export interface BoundAddresses {
  mac: Buffer
  ipv4: OverlayAddress | null
  ipv6: OverlayAddress | null
}

export class PeerBinding {
  /** the MAC as a 48-bit number (ethernet.ts macKeyAt) */
  readonly macKey: number
  /** the IPv4 address as an unsigned 32-bit number; -1: the certificate binds none, so no IPv4 or ARP */
  readonly ipv4: number
  /** the IPv6 overlay address (16 bytes), or null */
  readonly ipv6: Buffer | null
  /**
   * fe80::/64 with the modified EUI-64 interface ID of the MAC (RFC 4291 appendix A): the
   * link-local address a Linux TAP device with this MAC gives itself (addr_gen_mode eui64, the
   * default), which neighbour discovery needs before any other address works
   */
  readonly linkLocal: Buffer

  constructor(bound: BoundAddresses) {
    if (bound.mac.length !== 6) throw new RangeError(`mac must be 6 bytes, got ${bound.mac.length}`)
    this.macKey = macKeyAt(bound.mac, 0)
    this.ipv4 = bound.ipv4 === null ? -1 : ipv4Value(bound.ipv4.address)
    if (bound.ipv6 === null) this.ipv6 = null
    else {
      const ipv6 = Buffer.alloc(16)
      writeIPv6(bound.ipv6.address, ipv6, 0)
      this.ipv6 = ipv6
    }
    this.linkLocal = eui64LinkLocal(bound.mac)
  }

  /** Is the 16-byte IPv6 address at `frame[at]` one this peer may use as its own (not ::)? */
  ownsIpv6(frame: Buffer, at: number): boolean {
    if (frame.compare(this.linkLocal, 0, 16, at, at + 16) === 0) return true
    return this.ipv6 !== null && frame.compare(this.ipv6, 0, 16, at, at + 16) === 0
  }
}

/** fe80::/64 ‖ the MAC's modified EUI-64 (universal/local bit flipped, ff:fe in the middle). */
export function eui64LinkLocal(mac: Uint8Array): Buffer {
  const address = Buffer.alloc(16)
  address[0] = 0xfe
  address[1] = 0x80
  address[8] = mac[0]! ^ 0x02
  address[9] = mac[1]!
  address[10] = mac[2]!
  address[11] = 0xff
  address[12] = 0xfe
  address[13] = mac[3]!
  address[14] = mac[4]!
  address[15] = mac[5]!
  return address
}
