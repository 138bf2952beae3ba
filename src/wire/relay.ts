// RELAY (protocol v2): how an edge sends a session packet through its supernode. The supernode
// reads only this prefix (who sends, to whom) and forwards the whole datagram unchanged; the inner
// packet is sealed between the two edges (or, for a broadcast, with the sender's broadcast key),
// so the supernode sees only ciphertext. This is the relay's hot path: nothing is allocated.
//
//    0               1               2               3
//   +---------------+---------------+---------------+---------------+
//   |  version = 2  |  type = 0x11  |   flags = 0   |   reserved 0  |  0
//   +---------------+---------------+---------------+---------------+
//   |                  sender edge ID (u64, < 2^53)                 |  4
//   |                                                               |
//   +---------------------------------------------------------------+
//   |          destination edge ID (u64; 0 = every member)          | 12
//   |                                                               |
//   +---------------------------------------------------------------+
//   |  inner packet: HANDSHAKE_INIT, HANDSHAKE_RESPONSE or           | 20
//   |  SESSION_DATA to one edge; BROADCAST (only) to every member    |
//   +---------------------------------------------------------------+
import { readU53, writeU53 } from './cursor.js'
import { HEADER_BYTES, MAX_PACKET_BYTES, OLD_WIRE_VERSION, PacketType, WIRE_VERSION, isSessionType } from './header.js'
import { SessionPacketType } from './handshake.js'
import type { CodecReason } from './reasons.js'

export const RELAY_PREFIX_BYTES = 20
export const RELAY_SENDER_OFFSET = HEADER_BYTES
export const RELAY_DEST_OFFSET = 12
/** The largest session packet a RELAY can carry. */
export const MAX_RELAYED_PACKET = MAX_PACKET_BYTES - RELAY_PREFIX_BYTES

/** Reused for every packet: read a prefix into it, act on it, read the next one into it. */
export class RelayHeader {
  senderId = 0
  destId = 0
  /** the inner packet's type (a SessionPacketType) */
  innerType = 0
}

/**
 * Reads and checks a RELAY's prefix and the first two bytes of its inner packet into `out`.
 * Null when well formed, else the reason. The inner packet is `buf.subarray(RELAY_PREFIX_BYTES)`;
 * its own layout is checked by whoever opens it (the receiving edge).
 */
export function readRelayHeader(buf: Buffer, out: RelayHeader): CodecReason | null {
  if (buf.length > MAX_PACKET_BYTES) return 'oversized'
  if (buf.length < RELAY_PREFIX_BYTES + HEADER_BYTES) return 'truncated'
  if (buf[0] !== WIRE_VERSION) return buf[0] === OLD_WIRE_VERSION ? 'old-protocol' : 'bad-version'
  if (buf[1] !== PacketType.Relay) return 'unknown-type'
  if (buf[2] !== 0 || buf[3] !== 0) return 'nonzero-reserved'
  const senderId = readU53(buf, RELAY_SENDER_OFFSET)
  const destId = readU53(buf, RELAY_DEST_OFFSET)
  if (senderId <= 0 || destId < 0) return 'bad-edge-id'
  const innerType = buf[RELAY_PREFIX_BYTES + 1]!
  if (buf[RELAY_PREFIX_BYTES] !== WIRE_VERSION || !isSessionType(innerType)) return 'bad-inner-packet'
  // a broadcast goes to everyone and only a broadcast does: the key it is sealed with is the sender's, for every peer
  if ((destId === 0) !== (innerType === SessionPacketType.Broadcast)) return 'bad-inner-packet'
  out.senderId = senderId
  out.destId = destId
  out.innerType = innerType
  return null
}

/** Writes the 20-byte prefix at the start of `buf` (which the caller owns and reuses); the inner packet follows. */
export function writeRelayHeader(buf: Buffer, senderId: number, destId: number): void {
  buf[0] = WIRE_VERSION
  buf[1] = PacketType.Relay
  buf[2] = 0
  buf[3] = 0
  writeU53(buf, RELAY_SENDER_OFFSET, senderId)
  writeU53(buf, RELAY_DEST_OFFSET, destId)
}
