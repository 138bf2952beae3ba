// TCP segments over IPv4 inside untagged Ethernet frames, as the TAP's receive coalescing
// (src/tap/tcp-coalescer.ts) needs them: whether a frame is one, whether its checksums hold,
// whether two belong to one run of a flow, and the headers of a run merged into one frame (as
// the kernel's GRO would make it).
//
//   Ethernet (14) | IPv4 without options (20): … total length (@16) | id (@18) | flags+offset (@20)
//                   … checksum (@24) … src (@26) dst (@30)
//                 | TCP (@34): ports (4) | seq (@38) | ack (@42) | data offset (@46) | flags (@47)
//                   | window (@48) | checksum (@50) | urgent (@52) | options … | payload
import { ETHERNET_HEADER_BYTES, ETHERTYPE_IPV4, IPPROTO_TCP } from './ethernet.js'

export const TCP_FLAG_FIN = 0x01
export const TCP_FLAG_PSH = 0x08
export const TCP_FLAG_ACK = 0x10
const IPV4_HEADER_BYTES = 20
/** the IPv4 total length field's limit: no IPv4 frame is longer than this */
export const MAX_IPV4_FRAME_BYTES = ETHERNET_HEADER_BYTES + 0xffff
/** where the TCP header starts: only IPv4 headers without options are merged */
export const TCP_HEADER_OFFSET = ETHERNET_HEADER_BYTES + IPV4_HEADER_BYTES
const IP_TOTAL_LENGTH = ETHERNET_HEADER_BYTES + 2
const IP_ID = ETHERNET_HEADER_BYTES + 4
const IP_FRAGMENT = ETHERNET_HEADER_BYTES + 6
const IP_CHECKSUM = ETHERNET_HEADER_BYTES + 10
const IP_SRC = ETHERNET_HEADER_BYTES + 12
const TCP_SEQ = TCP_HEADER_OFFSET + 4
const TCP_DATA_OFFSET = TCP_HEADER_OFFSET + 12
const TCP_FLAGS = TCP_HEADER_OFFSET + 13
const TCP_CHECKSUM = TCP_HEADER_OFFSET + 16
/** IPv4's more-fragments bit and fragment offset */
const FRAGMENT_MASK = 0x3fff
const DONT_FRAGMENT = 0x4000
/** a ones' complement sum that checks out: the data's own checksum included, it is all ones */
const SUM_VALID = 0xffff

export class TcpSegment {
  /** Ethernet, IPv4 and TCP headers (options included) */
  headerBytes = 0
  payloadBytes = 0
  seq = 0
  flags = 0
  /** the IPv4 identification */
  ipId = 0
  /** the IPv4 don't-fragment bit: set, the identification means nothing (RFC 6864) */
  dontFragment = false
}

/** Fills `out` and returns true when `frame` is a whole TCP segment in IPv4 without options. */
export function readTcpSegment(frame: Buffer, out: TcpSegment): boolean {
  if (frame.length < TCP_HEADER_OFFSET + 20) return false
  if (frame.readUInt16BE(12) !== ETHERTYPE_IPV4 || frame[ETHERNET_HEADER_BYTES] !== 0x45 || frame[ETHERNET_HEADER_BYTES + 9] !== IPPROTO_TCP) return false
  const fragment = frame.readUInt16BE(IP_FRAGMENT)
  if ((fragment & FRAGMENT_MASK) !== 0) return false
  const ipEnd = ETHERNET_HEADER_BYTES + frame.readUInt16BE(IP_TOTAL_LENGTH)
  const headerBytes = TCP_HEADER_OFFSET + (frame[TCP_DATA_OFFSET]! >> 4) * 4
  if (ipEnd > frame.length || headerBytes < TCP_HEADER_OFFSET + 20 || headerBytes > ipEnd) return false
  out.headerBytes = headerBytes
  out.payloadBytes = ipEnd - headerBytes
  out.seq = frame.readUInt32BE(TCP_SEQ)
  out.flags = frame[TCP_FLAGS]!
  out.ipId = frame.readUInt16BE(IP_ID)
  out.dontFragment = (fragment & DONT_FRAGMENT) !== 0
  return true
}

/**
 * True when the IPv4 header checksum and the TCP checksum of the segment in frame[0, end) hold
 * (`end`: where its IPv4 packet ends, as readTcpSegment found it). A merged run reaches the host
 * with its checksum left to the "device", so this is the only check its segments get.
 */
export function tcpChecksumsValid(frame: Uint8Array, end: number): boolean {
  if (onesSum(frame, ETHERNET_HEADER_BYTES, TCP_HEADER_OFFSET, 0) !== SUM_VALID) return false
  // pseudo-header: source, destination, protocol, TCP length
  const pseudo = onesSum(frame, IP_SRC, IP_SRC + 8, IPPROTO_TCP + (end - TCP_HEADER_OFFSET))
  return onesSum(frame, TCP_HEADER_OFFSET, end, pseudo) === SUM_VALID
}

/**
 * True when `b` continues the flow of `a` with the same headers but for the fields that differ
 * segment to segment (IP length, ID and checksum, TCP sequence number, PSH and checksum): same
 * MACs, addresses, TTL, DSCP, DF, ports, acknowledgement, window and TCP options (timestamps too).
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
  frame.writeUInt16BE(~onesSum(frame, ETHERNET_HEADER_BYTES, TCP_HEADER_OFFSET, 0) & 0xffff, IP_CHECKSUM)
  // pseudo-header: source, destination, protocol, TCP length (not complemented: the device adds
  // the segment's own sum and complements the total)
  const pseudo = onesSum(frame, IP_SRC, IP_SRC + 8, IPPROTO_TCP + (ipLength - IPV4_HEADER_BYTES))
  frame.writeUInt16BE(pseudo, TCP_CHECKSUM)
}

/**
 * The ones' complement sum (RFC 1071) of the big-endian 16-bit words of bytes[from, to), an odd
 * last byte padded with zero, plus `start`, folded to 16 bits. `from` must be even in the frame
 * (every offset here is). Bytes at even and odd places are summed apart, as small integers, eight
 * bytes a turn, and combined once: this runs over every byte the coalescer merges, and this way
 * beat reading words with readUInt16BE/readUInt32BE (1.2 against 1.7 and 5.6 µs for 1,380 bytes,
 * node 20, a busy 2-core VM). 64 KB of 0xff sums to under 2^32, so >>> 16 folds it right.
 */
function onesSum(bytes: Uint8Array, from: number, to: number, start: number): number {
  let high = 0
  let low = 0
  let i = from
  for (; i + 7 < to; i += 8) {
    high += bytes[i]! + bytes[i + 2]! + bytes[i + 4]! + bytes[i + 6]!
    low += bytes[i + 1]! + bytes[i + 3]! + bytes[i + 5]! + bytes[i + 7]!
  }
  for (; i + 1 < to; i += 2) {
    high += bytes[i]!
    low += bytes[i + 1]!
  }
  if (i < to) high += bytes[i]!
  let sum = start + high * 256 + low
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return sum
}
