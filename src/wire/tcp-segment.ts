// TCP segments over IPv4 inside untagged Ethernet frames, as the TAP's receive coalescing
// (src/tap/tcp-coalescer.ts) needs them: whether a frame is one, whether two belong to one run of
// a flow, and the headers of a run merged into one frame (as the kernel's GRO would make it).
//
//   Ethernet (14) | IPv4 without options (20): … total length (@16) … id (@18) … flags+offset (@20)
//                   … checksum (@24) … src (@26) dst (@30)
//                 | TCP (@34): ports (4) | seq (@38) | ack (@42) | data offset (@46) | flags (@47)
//                   | window (@48) | checksum (@50) | urgent (@52) | options … | payload
import { ETHERNET_HEADER_BYTES, ETHERTYPE_IPV4, IPPROTO_TCP } from './ethernet.js'

export const TCP_FLAG_FIN = 0x01
export const TCP_FLAG_PSH = 0x08
export const TCP_FLAG_ACK = 0x10
const IPV4_HEADER_BYTES = 20
/** where the TCP header starts: only IPv4 headers without options are merged */
export const TCP_HEADER_OFFSET = ETHERNET_HEADER_BYTES + IPV4_HEADER_BYTES
const IP_TOTAL_LENGTH = ETHERNET_HEADER_BYTES + 2
const IP_FRAGMENT = ETHERNET_HEADER_BYTES + 6
const IP_CHECKSUM = ETHERNET_HEADER_BYTES + 10
const IP_SRC = ETHERNET_HEADER_BYTES + 12
const TCP_SEQ = TCP_HEADER_OFFSET + 4
const TCP_DATA_OFFSET = TCP_HEADER_OFFSET + 12
const TCP_FLAGS = TCP_HEADER_OFFSET + 13
const TCP_CHECKSUM = TCP_HEADER_OFFSET + 16
/** IPv4's more-fragments bit and fragment offset */
const FRAGMENT_MASK = 0x3fff

export class TcpSegment {
  /** Ethernet, IPv4 and TCP headers (options included) */
  headerBytes = 0
  payloadBytes = 0
  seq = 0
  flags = 0
}

/** Fills `out` and returns true when `frame` is a whole TCP segment in IPv4 without options. */
export function readTcpSegment(frame: Buffer, out: TcpSegment): boolean {
  if (frame.length < TCP_HEADER_OFFSET + 20) return false
  if (frame.readUInt16BE(12) !== ETHERTYPE_IPV4 || frame[ETHERNET_HEADER_BYTES] !== 0x45 || frame[ETHERNET_HEADER_BYTES + 9] !== IPPROTO_TCP) return false
  if ((frame.readUInt16BE(IP_FRAGMENT) & FRAGMENT_MASK) !== 0) return false
  const ipEnd = ETHERNET_HEADER_BYTES + frame.readUInt16BE(IP_TOTAL_LENGTH)
  const headerBytes = TCP_HEADER_OFFSET + (frame[TCP_DATA_OFFSET]! >> 4) * 4
  if (ipEnd > frame.length || headerBytes < TCP_HEADER_OFFSET + 20 || headerBytes > ipEnd) return false
  out.headerBytes = headerBytes
  out.payloadBytes = ipEnd - headerBytes
  out.seq = frame.readUInt32BE(TCP_SEQ)
  out.flags = frame[TCP_FLAGS]!
  return true
}

/**
 * True when `b` continues the flow of `a` with the same headers but for the fields that differ
 * segment to segment (IP length, ID and checksum, TCP sequence number, PSH and checksum): same
 * MACs, addresses, TTL, DSCP, ports, acknowledgement, window and TCP options (timestamps too).
 */
export function sameRunHeaders(a: Buffer, b: Buffer, headerBytes: number): boolean {
  return (
    a.compare(b, 0, IP_TOTAL_LENGTH, 0, IP_TOTAL_LENGTH) === 0 &&
    a.compare(b, IP_FRAGMENT, IP_CHECKSUM, IP_FRAGMENT, IP_CHECKSUM) === 0 &&
    a.compare(b, IP_SRC, TCP_SEQ, IP_SRC, TCP_SEQ) === 0 &&
    a.compare(b, TCP_SEQ + 4, TCP_FLAGS, TCP_SEQ + 4, TCP_FLAGS) === 0 &&
    a.compare(b, TCP_FLAGS + 1, TCP_CHECKSUM, TCP_FLAGS + 1, TCP_CHECKSUM) === 0 &&
    a.compare(b, TCP_CHECKSUM + 2, headerBytes, TCP_CHECKSUM + 2, headerBytes) === 0
  )
}

export function setTcpFlags(frame: Buffer, flags: number): void {
  frame[TCP_FLAGS] = flags
}

/**
 * Makes the headers of a merged run true for its `length` bytes: the IPv4 total length and header
 * checksum, and, in the TCP checksum field, the pseudo-header sum that a checksum left to the
 * device (CHECKSUM_PARTIAL) starts from.
 */
export function finishMergedHeaders(frame: Buffer, length: number): void {
  const ipLength = length - ETHERNET_HEADER_BYTES
  frame.writeUInt16BE(ipLength, IP_TOTAL_LENGTH)
  frame.writeUInt16BE(0, IP_CHECKSUM)
  frame.writeUInt16BE(~sum16(frame, ETHERNET_HEADER_BYTES, TCP_HEADER_OFFSET, 0) & 0xffff, IP_CHECKSUM)
  // pseudo-header: source, destination, protocol, TCP length (not complemented: the device adds
  // the segment's own sum and complements the total)
  const pseudo = sum16(frame, IP_SRC, IP_SRC + 8, IPPROTO_TCP + (ipLength - IPV4_HEADER_BYTES))
  frame.writeUInt16BE(pseudo, TCP_CHECKSUM)
}

/** The ones' complement sum of 16-bit words of frame[from, to), plus `start`, folded to 16 bits. */
function sum16(frame: Buffer, from: number, to: number, start: number): number {
  let sum = start
  for (let i = from; i < to; i += 2) sum += frame.readUInt16BE(i)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return sum
}
