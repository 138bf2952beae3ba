// "Forwarding disabled", enforced on every decrypted frame before it reaches the host: only frames
// for this edge (its MAC, broadcast or multicast) whose source addresses are the ones the sealing
// peer's certificate binds (peer-binding.ts), and at layer 3 only packets for this edge's own
// addresses. A technician who sends a packet
// for another network to this edge's MAC is dropped here, before the host's routing sees it,
// whatever net.ipv4.ip_forward says.
//
// No member is ever this host's router: ICMPv6 Router Advertisements and Redirects, and ICMP
// Redirects, are dropped whatever --allow says (the TAP's accept_ra=0 and accept_redirects=0 are
// the second line; for IPv4 the kernel still honours redirects when conf/all/accept_redirects is 1).
// ARP passes only when it is about this host's overlay address (or a peer announcing its own), so
// the host never tells a member the addresses of its other interfaces.
//
// What a peer may claim (its certificate, peer-binding.ts): source MAC = the certificate's MAC;
// IPv4 source and ARP sender address = its IPv4 address (an ARP probe's 0.0.0.0 too, RFC 5227:
// it claims nothing), and a certificate without IPv4 allows no IPv4 or ARP at all; IPv6 source =
// its IPv6 address, the link-local address its MAC gives it (EUI-64), or :: (duplicate address
// detection claims nothing); a Neighbor Advertisement's target = its IPv6 or that link-local
// address. Each refusal has its own reason, so /status says which claim a peer tried. Only IPv4, ARP and IPv6
// pass: other EtherTypes (LLDP, 802.1X, MPLS, PPPoE, IPX, raw 802.3…) have no addresses this
// filter could check, and remote assistance needs none of them.
import {
  ARP_FRAME_BYTES,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  FrameInfo,
  ICMPV6_NEIGHBOR_ADVERTISEMENT,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  VLAN_ETHERTYPES,
  isGroupMacKey,
  isIpv6LinkLocal,
  isIpv6Multicast,
  macKeyAt,
  readFrameInfo,
} from '../wire/index.js'
import type { PeerBinding } from './peer-binding.js'

export const FILTER_REASONS = [
  'runt',
  'bad-ip-header',
  'not-our-mac',
  'foreign-src-mac', // a source MAC other than the sender's certificate's
  'foreign-src-ip', // an IPv4 or IPv6 source address the sender's certificate does not bind
  'foreign-arp-sender', // an ARP sender address other than the sender's certificate's IPv4
  'foreign-nd-target', // a Neighbor Advertisement for an address the sender's certificate does not bind
  'no-ipv4-bound', // IPv4 or ARP from a sender whose certificate binds no IPv4 address
  'not-our-ip',
  'vlan-tagged',
  'router-message',
  'not-ip',
] as const
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
   * Null when `frame` (its first `length` bytes) may reach the host from the peer whose certificate
   * `sender` is made from; else the reason to drop it. Fills `this.info` for later stages (--allow).
   */
  check(frame: Buffer, length: number, sender: PeerBinding): FilterReason | null {
    const info = this.info
    const reason = readFrameInfo(frame, length, info)
    if (reason !== null) return reason
    if (info.dstMac !== this.ownMac && !isGroupMacKey(info.dstMac)) return 'not-our-mac'
    if (info.srcMac !== sender.macKey) return 'foreign-src-mac'
    if (VLAN_ETHERTYPES.has(info.etherType)) return 'vlan-tagged'
    if (info.etherType === ETHERTYPE_IPV4) {
      if (sender.ipv4 === -1) return 'no-ipv4-bound'
      if (info.ipv4Src !== sender.ipv4) return 'foreign-src-ip'
      if (!this.isOurIpv4(info.ipv4Dst)) return 'not-our-ip'
      return info.protocol === IPPROTO_ICMP && info.icmpType === ICMP_REDIRECT ? 'router-message' : null
    }
    if (info.etherType === ETHERTYPE_IPV6) {
      const src = info.ipv6SrcOffset
      if (!isIpv6Unspecified(frame, src) && !sender.ownsIpv6(frame, src)) return 'foreign-src-ip'
      if (!this.isOurIpv6(frame, info.ipv6DstOffset)) return 'not-our-ip'
      if (info.protocol !== IPPROTO_ICMPV6) return null
      if (info.icmpType === ICMPV6_ROUTER_ADVERTISEMENT || info.icmpType === ICMPV6_REDIRECT) return 'router-message'
      if (info.icmpType === ICMPV6_NEIGHBOR_ADVERTISEMENT) {
        // the advertisement is what makes a neighbour cache map an address to this MAC
        if (info.ndTargetOffset === 0) return 'bad-ip-header'
        if (!sender.ownsIpv6(frame, info.ndTargetOffset)) return 'foreign-nd-target'
      }
      return null
    }
    if (info.etherType === ETHERTYPE_ARP) {
      if (length < ARP_FRAME_BYTES) return 'runt'
      if (sender.ipv4 === -1) return 'no-ipv4-bound'
      if (info.arpSender !== sender.ipv4 && info.arpSender !== 0) return 'foreign-arp-sender'
      // a request or reply about our address, or a peer announcing its overlay address (gratuitous: sender = target)
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

/** :: (all zero): the source of duplicate address detection, which claims no address. */
function isIpv6Unspecified(frame: Buffer, at: number): boolean {
  for (let i = at; i < at + 16; i++) if (frame[i] !== 0) return false
  return true
}
