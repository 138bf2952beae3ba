// "Forwarding disabled", enforced on every decrypted frame before it reaches the host: only frames
// for this edge (its MAC, broadcast or multicast) whose source MAC belongs to the peer that sealed
// them, and at layer 3 only packets for this edge's own addresses. A technician who sends a packet
// for another network to this edge's MAC is dropped here, before the host's routing sees it,
// whatever net.ipv4.ip_forward says.
//
// No member is ever this host's router: ICMPv6 Router Advertisements and Redirects, and ICMP
// Redirects, are dropped whatever --allow says (the TAP's accept_ra=0 and accept_redirects=0 are
// the second line; for IPv4 the kernel still honours redirects when conf/all/accept_redirects is 1).
// ARP passes only when it is about this host's overlay address (or a peer announcing its own), so
// the host never tells a member the addresses of its other interfaces. Only IPv4, ARP and IPv6
// pass: other EtherTypes (LLDP, 802.1X, MPLS, PPPoE, IPX, raw 802.3…) have no addresses this
// filter could check, and remote assistance needs none of them.
import {
  ARP_FRAME_BYTES,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  FrameInfo,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  VLAN_ETHERTYPES,
  isGroupMacKey,
  isIpv6LinkLocal,
  isIpv6Multicast,
  macKeyAt,
  readFrameInfo,
} from '../wire/index.js'

export const FILTER_REASONS = ['runt', 'bad-ip-header', 'not-our-mac', 'foreign-src-mac', 'not-our-ip', 'vlan-tagged', 'router-message', 'not-ip'] as const
export type FilterReason = (typeof FILTER_REASONS)[number]

const IPV4_BROADCAST = 0xffffffff
const ICMP_REDIRECT = 5
const ICMPV6_ROUTER_ADVERTISEMENT = 134
const ICMPV6_REDIRECT = 137

export class FrameFilter {
  readonly info = new FrameInfo()
  readonly ownMac: number
  private ipv4 = -1
  private ipv4Broadcast = -1
  private ipv4Mask = 0
  private readonly ipv6: Buffer[] = []

  constructor(mac: Buffer) {
    this.ownMac = macKeyAt(mac, 0)
  }

  /** The edge's overlay IPv4 address and prefix (configured, or assigned by the supernode). */
  setIpv4(address: number, prefix: number): void {
    this.ipv4 = address
    const hostBits = 32 - prefix
    this.ipv4Mask = hostBits === 32 ? 0 : (0xffffffff << hostBits) >>> 0
    this.ipv4Broadcast = hostBits === 0 ? address : (address | (2 ** hostBits - 1)) >>> 0
  }

  /** An IPv6 address (16 bytes) of the edge's own beyond link-local, which always passes. */
  addIpv6(address: Buffer): void {
    this.ipv6.push(Buffer.from(address))
  }

  /**
   * Null when `frame` (its first `length` bytes) may reach the host from the peer whose MAC is
   * `senderMac`; else the reason to drop it. Fills `this.info` for later stages (--allow).
   */
  check(frame: Buffer, length: number, senderMac: number): FilterReason | null {
    const info = this.info
    const reason = readFrameInfo(frame, length, info)
    if (reason !== null) return reason
    if (info.dstMac !== this.ownMac && !isGroupMacKey(info.dstMac)) return 'not-our-mac'
    if (info.srcMac !== senderMac) return 'foreign-src-mac'
    if (VLAN_ETHERTYPES.has(info.etherType)) return 'vlan-tagged'
    if (info.etherType === ETHERTYPE_IPV4) {
      if (!this.isOurIpv4(info.ipv4Dst)) return 'not-our-ip'
      return info.protocol === IPPROTO_ICMP && info.icmpType === ICMP_REDIRECT ? 'router-message' : null
    }
    if (info.etherType === ETHERTYPE_IPV6) {
      if (!this.isOurIpv6(frame, info.ipv6DstOffset)) return 'not-our-ip'
      if (info.protocol === IPPROTO_ICMPV6 && (info.icmpType === ICMPV6_ROUTER_ADVERTISEMENT || info.icmpType === ICMPV6_REDIRECT)) return 'router-message'
      return null
    }
    if (info.etherType === ETHERTYPE_ARP) {
      if (length < ARP_FRAME_BYTES) return 'runt'
      // a request or reply about our address, or a peer announcing an overlay address (gratuitous: sender = target)
      if (this.ipv4 === -1) return 'not-our-ip'
      if (info.arpTarget === this.ipv4 || (info.arpSender === info.arpTarget && this.inOurSubnet(info.arpTarget))) return null
      return 'not-our-ip'
    }
    return 'not-ip'
  }

  private inOurSubnet(address: number): boolean {
    return (address & this.ipv4Mask) >>> 0 === (this.ipv4 & this.ipv4Mask) >>> 0
  }

  private isOurIpv4(dst: number): boolean {
    return dst === this.ipv4 || dst === IPV4_BROADCAST || dst === this.ipv4Broadcast || dst >>> 28 === 0xe
  }

  private isOurIpv6(frame: Buffer, at: number): boolean {
    if (isIpv6Multicast(frame, at) || isIpv6LinkLocal(frame, at)) return true
    for (const own of this.ipv6) if (frame.compare(own, 0, 16, at, at + 16) === 0) return true
    return false
  }
}
