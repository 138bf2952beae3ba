// Userspace streams (issue 16): what one message of an SCTP stream carries. The SCTP packets of a
// pair's association ride SESSION_DATA kind 4 (handshake.ts), sealed by the pair session, direct or
// relayed like any session packet; their layout is SCTP's (RFC 9260, werift-sctp writes and reads
// it). One SCTP stream carries one TCP connection; each of its messages (PPID 53, ordered) is:
//
//    0               1               2               3
//   +---------------+---------------+---------------+---------------+
//   |     type      |  body …  (by type)                            |
//   +---------------+-----------------------------------------------+
//   OPEN    0x01  port (u16, ≠ 0): the device's TCP port (technician → device; the first message)
//   ACCEPT  0x02  (no body): the device connected to that port
//   REFUSE  0x03  reason (u8, StreamRefusal): no connection; the stream is over
//   DATA    0x04  1..MAX_STREAM_DATA bytes of the TCP connection
//   WINDOW  0x05  credit (u32, ≠ 0): bytes the receiver has handed to its socket since its last WINDOW
//   END     0x06  (no body): the sender's side of the TCP connection ended (FIN); the other may still send
//   RESET   0x07  reason (u8, StreamRefusal): the stream is gone (a socket error, the edge stopping)
import { Reader } from './cursor.js'

export const StreamMessageType = { Open: 0x01, Accept: 0x02, Refuse: 0x03, Data: 0x04, Window: 0x05, End: 0x06, Reset: 0x07 } as const
export type StreamMessageType = (typeof StreamMessageType)[keyof typeof StreamMessageType]

/** The largest DATA body: a TCP read of 64 KiB goes as four messages (SCTP cuts each into 1200-byte chunks). */
export const MAX_STREAM_DATA = 16 * 1024

/** Why a stream was refused or reset: one byte on the wire, a name in logs, audit and counters. */
export const STREAM_REFUSALS = [
  'unspecified', // 0
  'port-not-allowed', // 1: the device's --allow rules do not list the port
  'not-a-member', // 2: the peer's certificate role may not open streams (a device's)
  'connection-refused', // 3: nothing listens on that port of the device
  'unreachable', // 4: the device's connect failed otherwise (timeout, no route)
  'no-service', // 5: this edge accepts no streams (a userspace edge, or a TAP edge without --accept-streams)
  'too-many-streams', // 6: the peer has as many streams open as it may
  'closed', // 7: the edge is stopping, or the peer was removed (revoked, expired, gone)
  'protocol', // 8: a message out of order or beyond the window
] as const
export type StreamRefusal = (typeof STREAM_REFUSALS)[number]

export type StreamMessage =
  | { type: typeof StreamMessageType.Open; port: number }
  | { type: typeof StreamMessageType.Accept }
  | { type: typeof StreamMessageType.Refuse | typeof StreamMessageType.Reset; reason: StreamRefusal }
  | { type: typeof StreamMessageType.Data; data: Buffer }
  | { type: typeof StreamMessageType.Window; credit: number }
  | { type: typeof StreamMessageType.End }

/** Why a stream message was refused: a closed set, each a counter. */
export const STREAM_CODEC_REASONS = ['truncated', 'trailing-bytes', 'unknown-type', 'bad-port', 'bad-stream-reason', 'empty-data', 'oversized', 'bad-credit'] as const
export type StreamCodecReason = (typeof STREAM_CODEC_REASONS)[number]

export type StreamDecoded = { ok: true; value: StreamMessage } | { ok: false; reason: StreamCodecReason }

export function encodeStreamMessage(message: StreamMessage): Buffer {
  switch (message.type) {
    case StreamMessageType.Open: {
      const out = Buffer.alloc(3)
      out[0] = message.type
      out.writeUInt16BE(message.port, 1)
      return out
    }
    case StreamMessageType.Refuse:
    case StreamMessageType.Reset:
      return Buffer.from([message.type, STREAM_REFUSALS.indexOf(message.reason)])
    case StreamMessageType.Data:
      return Buffer.concat([Buffer.from([message.type]), message.data])
    case StreamMessageType.Window: {
      const out = Buffer.alloc(5)
      out[0] = message.type
      out.writeUInt32BE(message.credit, 1)
      return out
    }
    default:
      return Buffer.from([message.type])
  }
}

/** Decodes one message (untrusted: it came from a peer); DATA's body is a view of `buf`. */
export function decodeStreamMessage(buf: Buffer): StreamDecoded {
  if (buf.length === 0) return { ok: false, reason: 'truncated' }
  const type = buf[0]!
  const r = new Reader(buf)
  r.u8()
  let message: StreamMessage
  switch (type) {
    case StreamMessageType.Open: {
      const port = r.u16()
      if (r.reason === null && port === 0) return { ok: false, reason: 'bad-port' }
      message = { type, port }
      break
    }
    case StreamMessageType.Refuse:
    case StreamMessageType.Reset: {
      const reason = STREAM_REFUSALS[r.u8()]
      if (r.reason === null && reason === undefined) return { ok: false, reason: 'bad-stream-reason' }
      message = { type, reason: reason ?? 'unspecified' }
      break
    }
    case StreamMessageType.Data:
      if (buf.length === 1) return { ok: false, reason: 'empty-data' }
      if (buf.length - 1 > MAX_STREAM_DATA) return { ok: false, reason: 'oversized' }
      return { ok: true, value: { type, data: buf.subarray(1) } }
    case StreamMessageType.Window: {
      const credit = r.u32()
      if (r.reason === null && credit === 0) return { ok: false, reason: 'bad-credit' }
      message = { type, credit }
      break
    }
    case StreamMessageType.Accept:
    case StreamMessageType.End:
      message = { type }
      break
    default:
      return { ok: false, reason: 'unknown-type' }
  }
  if (r.reason !== null) return { ok: false, reason: 'truncated' }
  if (r.remaining !== 0) return { ok: false, reason: 'trailing-bytes' }
  return { ok: true, value: message }
}

/** SCTP's common header (RFC 9260 3.1) before the first chunk, a chunk's own header, and the INIT chunk's type. */
const SCTP_COMMON_HEADER_BYTES = 12
const SCTP_CHUNK_HEADER_BYTES = 4
const SCTP_CHUNK_INIT = 1

/** Why an SCTP packet from a peer is not handed to werift-sctp at all. */
export const SCTP_PACKET_REASONS = ['sctp-short', 'sctp-chunk-length'] as const
export type SctpPacketReason = (typeof SCTP_PACKET_REASONS)[number]

/**
 * Whether an SCTP packet (untrusted) may go to werift's parser: a common header, at least one
 * chunk, and chunk lengths (RFC 9260 3.2: type, flags, length u16 with its own 4 bytes) that stay
 * inside the packet. werift walks the chunks by that length and never moves past a length of 0: its
 * loop would run forever. What else it refuses (checksum, an unknown chunk type, a chunk too short
 * for its type) it throws for, and the association counts that (association.ts).
 */
export function checkSctpPacket(packet: Buffer): SctpPacketReason | null {
  if (packet.length < SCTP_COMMON_HEADER_BYTES + SCTP_CHUNK_HEADER_BYTES) return 'sctp-short'
  let at = SCTP_COMMON_HEADER_BYTES
  // as werift reads them: trailing bytes too few for a chunk header are left alone
  while (at + SCTP_CHUNK_HEADER_BYTES <= packet.length) {
    const length = packet.readUInt16BE(at + 2)
    if (length < SCTP_CHUNK_HEADER_BYTES || at + length > packet.length) return 'sctp-chunk-length'
    // chunks are padded to 4 bytes
    at += length + ((4 - (length % 4)) % 4)
  }
  return null
}

/** Whether an SCTP packet (untrusted) starts with an INIT chunk: a peer starting a new association. */
export function isSctpInit(packet: Buffer): boolean {
  return packet.length > SCTP_COMMON_HEADER_BYTES && packet[SCTP_COMMON_HEADER_BYTES] === SCTP_CHUNK_INIT
}
