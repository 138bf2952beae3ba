// The sealed layout: DATA, RELAY, PROBE and PROBE_ACK, the packets edges encrypt for each other.
// This is the hot path, so the header is read into a reusable object and nothing is allocated.
//
//    0               1               2               3
//   +---------------+---------------+---------------+---------------+
//   |    version    |     type      |   flags = 0   |   reserved 0  |  0
//   +---------------+---------------+---------------+---------------+
//   |                    sender edge ID (u64, < 2^53)               |  4
//   |                                                               |
//   +---------------------------------------------------------------+
//   |          destination edge ID (u64; 0 = every member)          | 12
//   |                                                               |
//   +---------------------------------------------------------------+
//   |               counter (u64, 1 .. 2^53 - 1, per sender)        | 20
//   |                                                               |
//   +---------------------------------------------------------------+
//   |     ciphertext: XChaCha20-Poly1305 of the payload, 16-byte    | 28
//   |     tag at the end; the 28 header bytes are the associated    |
//   |     data, the nonce is sender ID ‖ counter ‖ 8 zero bytes      |
//   +---------------------------------------------------------------+
//
// Only RELAY may carry destination 0 (the supernode fans it out to every other member).
import { HEADER_BYTES, MAX_PACKET_BYTES, PacketType, WIRE_VERSION, isSealedType } from './header.js'
import { readU53, writeU53 } from './cursor.js'
import type { CodecReason } from './reasons.js'

export const SEALED_HEADER_BYTES = 28
export const AEAD_TAG_BYTES = 16
export const SEALED_OVERHEAD = SEALED_HEADER_BYTES + AEAD_TAG_BYTES
export const MAX_SEALED_PAYLOAD = MAX_PACKET_BYTES - SEALED_OVERHEAD

export const SENDER_OFFSET = HEADER_BYTES
export const DEST_OFFSET = 12
export const COUNTER_OFFSET = 20

export type SealedType = typeof PacketType.Data | typeof PacketType.Relay | typeof PacketType.Probe | typeof PacketType.ProbeAck

/** Reused for every packet: read a header into it, act on it, read the next one into it. */
export class SealedHeader {
  type: SealedType = PacketType.Data
  senderId = 0
  destId = 0
  counter = 0
}

/**
 * Reads and checks the header of a sealed packet into `out`. Returns null when it is well
 * formed, or the reason it is not. The ciphertext is `buf.subarray(SEALED_HEADER_BYTES)`.
 */
export function readSealedHeader(buf: Buffer, out: SealedHeader): CodecReason | null {
  if (buf.length > MAX_PACKET_BYTES) return 'oversized'
  if (buf.length < SEALED_OVERHEAD) return 'truncated'
  if (buf[0] !== WIRE_VERSION) return 'bad-version'
  const type = buf[1] as number
  if (!isSealedType(type)) return 'unknown-type'
  if (buf[2] !== 0 || buf[3] !== 0) return 'nonzero-reserved'
  const senderId = readU53(buf, SENDER_OFFSET)
  const destId = readU53(buf, DEST_OFFSET)
  if (senderId <= 0 || destId < 0 || (destId === 0 && type !== PacketType.Relay)) return 'bad-edge-id'
  const counter = readU53(buf, COUNTER_OFFSET)
  if (counter <= 0) return 'bad-counter'
  out.type = type as SealedType
  out.senderId = senderId
  out.destId = destId
  out.counter = counter
  return null
}

/** Writes the 28-byte header at the start of `buf` (which the caller owns and reuses). */
export function writeSealedHeader(buf: Buffer, type: SealedType, senderId: number, destId: number, counter: number): void {
  buf[0] = WIRE_VERSION
  buf[1] = type
  buf[2] = 0
  buf[3] = 0
  writeU53(buf, SENDER_OFFSET, senderId)
  writeU53(buf, DEST_OFFSET, destId)
  writeU53(buf, COUNTER_OFFSET, counter)
}
