// "Forwarding disabled", enforced on every decrypted frame before it reaches the host: only frames
// for this edge (its MAC, broadcast or multicast) whose source MAC belongs to the peer that sealed
// them, and at layer 3 only packets for this edge's own addresses. A technician who sends a packet
// for another network to this edge's MAC is dropped here, before the host's routing sees it,
// whatever net.ipv4.ip_forward says.
import {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  FrameInfo,
  VLAN_ETHERTYPES,
  isGroupMacKey,
  isIpv6LinkLocal,
  isIpv6Multicast,
  macKeyAt,
  readFrameInfo,
} from '../wire/index.js'

export const FILTER_REASONS = ['runt', 'bad-ip-header', 'not-our-mac', 'foreign-src-mac', 'not-our-ip', 'vlan-tagged'] as const
export type FilterReason = (typeof FILTER_REASONS)[number]

const IPV4_BROADCAST = 0xffffffff

export class FrameFilter {
  readonly info = new FrameInfo()
  readonly ownMac: number
  private ipv4 = -1
  private ipv4Broadcast = -1
  private readonly ipv6: Buffer[] = []

  constructor(mac: Buffer) {
    this.ownMac = macKeyAt(mac, 0)
  }

  /** The edge's overlay IPv4 address and prefix (configured, or assigned by the supernode). */
  setIpv4(address: number, prefix: number): void {
    this.ipv4 = address
    const hostBits = 32 - prefix
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
      const dst = info.ipv4Dst
      if (dst === this.ipv4 || dst === IPV4_BROADCAST || dst === this.ipv4Broadcast || dst >>> 28 === 0xe) return null
      return 'not-our-ip'
    }
    if (info.etherType === ETHERTYPE_IPV6) {
      const at = info.ipv6DstOffset
      if (isIpv6Multicast(frame, at) || isIpv6LinkLocal(frame, at)) return null
      for (const own of this.ipv6) if (frame.compare(own, 0, 16, at, at + 16) === 0) return null
      return 'not-our-ip'
    }
    return null
  }
}
