// What the edge's frame filter needs to know of an Ethernet frame, read into a reusable object
// (the inbound hot path): MACs as 48-bit numbers, the EtherType, and for IPv4/IPv6 the
// destination address, the protocol and the ports.
//
//   Ethernet: dst MAC (6) | src MAC (6) | EtherType (2) | payload
//   IPv4:     version/IHL (1) | … | protocol (@9) | … | src (@12, 4) | dst (@16, 4) | options | L4
//   IPv6:     version (4 bits) | … | next header (@6) | hop limit | src (@8, 16) | dst (@24, 16) | L4
//   TCP/UDP:  src port (2) | dst port (2) | … TCP flags (@13)
//   ARP:      htype 1 (2) | ptype 0x0800 (2) | hlen 6 | plen 4 | op (2) | sha (6) | spa (4) | tha (6) | tpa (4)

export const ETHERNET_HEADER_BYTES = 14
export const ETHERTYPE_IPV4 = 0x0800
export const ETHERTYPE_ARP = 0x0806
export const ETHERTYPE_IPV6 = 0x86dd
/** 802.1Q, 802.1ad and the old QinQ tag: a tagged frame could reach another interface of the host */
export const VLAN_ETHERTYPES = new Set([0x8100, 0x88a8, 0x9100])
export const BROADCAST_MAC_KEY = 0xffffffffffff

export const IPPROTO_ICMP = 1
export const IPPROTO_TCP = 6
export const IPPROTO_UDP = 17
export const IPPROTO_ICMPV6 = 58
export const ICMPV6_NEIGHBOR_SOLICITATION = 135
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136

export class FrameInfo {
  dstMac = 0
  srcMac = 0
  etherType = 0
  /** 4, 6 or 0 (not IP) */
  ipVersion = 0
  /** IPv4 destination as an unsigned 32-bit number */
  ipv4Dst = 0
  ipv4Src = 0
  /** offset of the 16-byte IPv6 destination (or source) in the frame */
  ipv6DstOffset = 0
  ipv6SrcOffset = 0
  /** upper-layer protocol (IPv6: after the extension headers, which are walked) */
  protocol = 0
  /** a fragment: IPv4 with MF or an offset, IPv6 with a Fragment header */
  fragment = false
  /** ARP: sender and target IPv4 addresses as unsigned 32-bit numbers (0 when not ARP) */
  arpSender = 0
  arpTarget = 0
  /** TCP/UDP ports, 0 when not TCP/UDP or not in the first fragment */
  srcPort = 0
  dstPort = 0
  tcpFlags = 0
  /** ICMP / ICMPv6 type, -1 when not ICMP */
  icmpType = -1
  /** identifier of an ICMP echo request or reply */
  icmpId = 0
  /** offset of the 16-byte target address of an IPv6 Neighbor Solicitation or Advertisement; 0 when none */
  ndTargetOffset = 0
}

export type FrameReason = 'runt' | 'bad-ip-header'

/** IPv6 extension headers that come before the upper layer (RFC 8200): walked to find it. */
const IPV6_HOP_BY_HOP = 0
const IPV6_ROUTING = 43
const IPV6_FRAGMENT = 44
const IPV6_DESTINATION_OPTIONS = 60
/** more extension headers than any real packet carries: a chain this long is refused */
const MAX_IPV6_EXTENSION_HEADERS = 8
/** Ethernet + ARP for IPv4 over Ethernet */
export const ARP_FRAME_BYTES = ETHERNET_HEADER_BYTES + 28

export function macKeyAt(frame: Uint8Array, offset: number): number {
  return (frame[offset]! * 0x10000000000 + frame[offset + 1]! * 0x100000000 + ((frame[offset + 2]! << 24) >>> 0) + (frame[offset + 3]! << 16) + (frame[offset + 4]! << 8) + frame[offset + 5]!)
}

export function macBytesOf(key: number): Buffer {
  const mac = Buffer.alloc(6)
  mac.writeUIntBE(key, 0, 6)
  return mac
}

/** Group (broadcast or multicast) MACs have the lowest bit of the first byte set. */
export function isGroupMacKey(key: number): boolean {
  return Math.floor(key / 0x10000000000) % 2 === 1
}

/** Ethernet frames shorter than this are padded (the 64-byte minimum less the 4-byte FCS). */
const MIN_FRAME_BYTES = 60
const ARP_REQUEST = 1

/**
 * A gratuitous ARP request (sender and target both `ipv4`, to broadcast): what a host sends when an
 * address comes up on an interface, so that neighbours replace the MAC they remember for it.
 */
export function encodeGratuitousArp(mac: Uint8Array, ipv4: number): Buffer {
  const frame = Buffer.alloc(MIN_FRAME_BYTES)
  frame.fill(0xff, 0, 6)
  frame.set(mac, 6)
  frame.writeUInt16BE(ETHERTYPE_ARP, 12)
  frame.writeUInt16BE(1, 14) // Ethernet
  frame.writeUInt16BE(ETHERTYPE_IPV4, 16)
  frame[18] = 6
  frame[19] = 4
  frame.writeUInt16BE(ARP_REQUEST, 20)
  frame.set(mac, 22)
  frame.writeUInt32BE(ipv4 >>> 0, 28)
  frame.writeUInt32BE(ipv4 >>> 0, 38)
  return frame
}

export function readFrameInfo(frame: Buffer, length: number, out: FrameInfo): FrameReason | null {
  if (length < ETHERNET_HEADER_BYTES) return 'runt'
  out.dstMac = macKeyAt(frame, 0)
  out.srcMac = macKeyAt(frame, 6)
  out.etherType = (frame[12]! << 8) | frame[13]!
  out.ipVersion = 0
  out.protocol = 0
  out.srcPort = 0
  out.dstPort = 0
  out.tcpFlags = 0
  out.icmpType = -1
  out.icmpId = 0
  out.ndTargetOffset = 0
  out.fragment = false
  out.arpSender = 0
  out.arpTarget = 0
  const ip = ETHERNET_HEADER_BYTES
  let l4: number
  let fragmentOffset = 0
  if (out.etherType === ETHERTYPE_IPV4) {
    if (length < ip + 20 || frame[ip]! >> 4 !== 4) return 'bad-ip-header'
    const headerBytes = (frame[ip]! & 0x0f) * 4
    if (headerBytes < 20 || length < ip + headerBytes) return 'bad-ip-header'
    out.ipVersion = 4
    out.protocol = frame[ip + 9]!
    out.ipv4Src = frame.readUInt32BE(ip + 12)
    out.ipv4Dst = frame.readUInt32BE(ip + 16)
    const flagsAndOffset = frame.readUInt16BE(ip + 6)
    fragmentOffset = flagsAndOffset & 0x1fff
    out.fragment = (flagsAndOffset & 0x2000) !== 0 || fragmentOffset !== 0
    l4 = ip + headerBytes
  } else if (out.etherType === ETHERTYPE_IPV6) {
    if (length < ip + 40 || frame[ip]! >> 4 !== 6) return 'bad-ip-header'
    out.ipVersion = 6
    out.ipv6SrcOffset = ip + 8
    out.ipv6DstOffset = ip + 24
    // the upper layer (ICMPv6 router messages, TCP ports for --allow) may sit behind extension
    // headers; a chain that does not fit in the frame is refused rather than guessed at
    let next = frame[ip + 6]!
    l4 = ip + 40
    for (let n = 0; ; n++) {
      if (next !== IPV6_HOP_BY_HOP && next !== IPV6_ROUTING && next !== IPV6_FRAGMENT && next !== IPV6_DESTINATION_OPTIONS) break
      if (n === MAX_IPV6_EXTENSION_HEADERS || length < l4 + 8) return 'bad-ip-header'
      if (next === IPV6_FRAGMENT) {
        out.fragment = true
        fragmentOffset = frame.readUInt16BE(l4 + 2) >> 3
      }
      const headerBytes = next === IPV6_FRAGMENT ? 8 : (frame[l4 + 1]! + 1) * 8
      next = frame[l4]!
      l4 += headerBytes
      if (fragmentOffset !== 0) break // a later fragment: what follows is not a header
    }
    out.protocol = next
  } else {
    if (out.etherType === ETHERTYPE_ARP && length >= ARP_FRAME_BYTES) {
      out.arpSender = frame.readUInt32BE(ETHERNET_HEADER_BYTES + 14)
      out.arpTarget = frame.readUInt32BE(ETHERNET_HEADER_BYTES + 24)
    }
    return null
  }
  if (fragmentOffset !== 0) return null
  if ((out.protocol === IPPROTO_TCP || out.protocol === IPPROTO_UDP) && length >= l4 + 4) {
    out.srcPort = frame.readUInt16BE(l4)
    out.dstPort = frame.readUInt16BE(l4 + 2)
    if (out.protocol === IPPROTO_TCP && length >= l4 + 14) out.tcpFlags = frame[l4 + 13]!
  } else if ((out.protocol === IPPROTO_ICMP || out.protocol === IPPROTO_ICMPV6) && length > l4) {
    out.icmpType = frame[l4]!
    out.icmpId = length >= l4 + 6 ? frame.readUInt16BE(l4 + 4) : 0
    // NS and NA: type, code, checksum, reserved (8), then the target address (RFC 4861 §4.3, §4.4)
    const nd = out.protocol === IPPROTO_ICMPV6 && (out.icmpType === ICMPV6_NEIGHBOR_SOLICITATION || out.icmpType === ICMPV6_NEIGHBOR_ADVERTISEMENT)
    if (nd && length >= l4 + 24) out.ndTargetOffset = l4 + 8
  }
  return null
}

/** The 16 bytes of an IPv6 address at `offset` as hex (for table keys off the hot path). */
export function ipv6HexAt(frame: Buffer, offset: number): string {
  return frame.toString('hex', offset, offset + 16)
}

/** IPv6 multicast (ff00::/8) at `offset`. */
export function isIpv6Multicast(frame: Uint8Array, offset: number): boolean {
  return frame[offset] === 0xff
}

/** IPv6 link-local unicast (fe80::/10) at `offset`: never routed off the link. */
export function isIpv6LinkLocal(frame: Uint8Array, offset: number): boolean {
  return frame[offset] === 0xfe && (frame[offset + 1]! & 0xc0) === 0x80
}
