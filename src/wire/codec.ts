// The one entry point for untrusted bytes: decodePacket() turns a datagram into a typed packet
// or into the reason it was refused. It never throws: a throw from here is a bug in the codec.
import { Reader } from './cursor.js'
import {
  readCookie,
  readDeregister,
  readError,
  readHello,
  readKeepalive,
  readPeerInfo,
  readPeerQuery,
  readRegister,
  readRegisterAck,
  type ControlPacket,
} from './control.js'
import { readRecord, type PeerRecord } from './fields.js'
import { HEADER_BYTES, MAX_PACKET_BYTES, PacketType, WIRE_VERSION, isPacketType, isSealedType } from './header.js'
import type { Decoded } from './reasons.js'
import { SEALED_HEADER_BYTES, SealedHeader, readSealedHeader, type SealedType } from './sealed.js'

export interface SealedPacket {
  type: SealedType
  senderId: number
  destId: number
  counter: number
  /** the 28 header bytes: the AEAD's associated data */
  header: Buffer
  ciphertext: Buffer
}

export type Packet = ControlPacket | SealedPacket

export function decodePacket(buf: Buffer): Decoded<Packet> {
  if (buf.length > MAX_PACKET_BYTES) return { ok: false, reason: 'oversized' }
  if (buf.length < HEADER_BYTES) return { ok: false, reason: 'truncated' }
  if (buf[0] !== WIRE_VERSION) return { ok: false, reason: 'bad-version' }
  const type = buf[1] as number
  if (!isPacketType(type)) return { ok: false, reason: 'unknown-type' }
  if (isSealedType(type)) return decodeSealed(buf)

  const r = new Reader(buf)
  r.u8() // version, checked above
  r.u8() // type
  const flags = r.u8()
  r.zero(1)
  // the types with flags of their own check them in their decoders
  if (flags !== 0 && type !== PacketType.PeerQuery && type !== PacketType.Error && type !== PacketType.PeerInfo && type !== PacketType.PunchRequest) r.fail('nonzero-reserved')
  const value = readControl(r, type, flags)
  const reason = r.finish()
  return reason === null ? { ok: true, value } : { ok: false, reason }
}

/** A peer record alone (the copy a supernode stores), which must fill `buf` exactly. */
export function decodeRecord(buf: Buffer): Decoded<PeerRecord> {
  const r = new Reader(buf)
  const value = readRecord(r)
  const reason = r.finish()
  return reason === null ? { ok: true, value } : { ok: false, reason }
}

function readControl(r: Reader, type: PacketType, flags: number): ControlPacket {
  switch (type) {
    case PacketType.Hello:
      return readHello(r)
    case PacketType.Cookie:
      return readCookie(r)
    case PacketType.Register:
      return readRegister(r)
    case PacketType.RegisterAck:
      return readRegisterAck(r)
    case PacketType.Keepalive:
    case PacketType.KeepaliveAck:
      return readKeepalive(r, type)
    case PacketType.PeerQuery:
      return readPeerQuery(r, flags)
    case PacketType.PeerInfo:
    case PacketType.PunchRequest:
      return readPeerInfo(r, type, flags)
    case PacketType.Deregister:
      return readDeregister(r)
    case PacketType.Error:
      return readError(r, flags)
    /* c8 ignore next 2 */
    default:
      throw new Error(`codec bug: sealed type ${type} reached readControl`)
  }
}

const scratch = new SealedHeader()

function decodeSealed(buf: Buffer): Decoded<SealedPacket> {
  const reason = readSealedHeader(buf, scratch)
  if (reason !== null) return { ok: false, reason }
  return {
    ok: true,
    value: {
      type: scratch.type,
      senderId: scratch.senderId,
      destId: scratch.destId,
      counter: scratch.counter,
      header: buf.subarray(0, SEALED_HEADER_BYTES),
      ciphertext: buf.subarray(SEALED_HEADER_BYTES),
    },
  }
}
