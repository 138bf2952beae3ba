// The one entry point for untrusted control bytes: decodePacket() turns a datagram into a typed
// packet or into the reason it was refused. It never throws: a throw from here is a bug in the
// codec. RELAY's prefix is read by relay.ts (the supernode's hot path) and session packets by the
// session layer (handshake.ts, src/crypto/session-table.ts): decodePacket reads a RELAY's prefix
// too, for tools and tests.
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
  readRevocationPacket,
  type ControlPacket,
} from './control.js'
import { readEnroll } from './enroll.js'
import { HEADER_BYTES, MAX_PACKET_BYTES, OLD_WIRE_VERSION, PacketType, WIRE_VERSION, isPacketType } from './header.js'
import type { Decoded } from './reasons.js'
import { RELAY_PREFIX_BYTES, RelayHeader, readRelayHeader } from './relay.js'

export interface RelayPacket {
  type: typeof PacketType.Relay
  senderId: number
  destId: number
  /** a view of the datagram: the session packet inside */
  inner: Buffer
}

export type Packet = ControlPacket | RelayPacket

export function decodePacket(buf: Buffer): Decoded<Packet> {
  if (buf.length > MAX_PACKET_BYTES) return { ok: false, reason: 'oversized' }
  if (buf.length < HEADER_BYTES) return { ok: false, reason: 'truncated' }
  if (buf[0] !== WIRE_VERSION) return { ok: false, reason: buf[0] === OLD_WIRE_VERSION ? 'old-protocol' : 'bad-version' }
  const type = buf[1] as number
  if (!isPacketType(type)) return { ok: false, reason: 'unknown-type' }
  if (type === PacketType.Relay) return decodeRelay(buf)

  const r = new Reader(buf)
  r.u8() // version, checked above
  r.u8() // type
  const flags = r.u8()
  r.zero(1)
  // the types with flags of their own check them in their decoders
  if (flags !== 0 && type !== PacketType.PeerQuery && type !== PacketType.Error && type !== PacketType.PeerInfo && type !== PacketType.PunchRequest && type !== PacketType.Enroll) r.fail('nonzero-reserved')
  const value = readControl(r, type, flags)
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
    case PacketType.Revocation:
      return readRevocationPacket(r)
    case PacketType.Enroll:
      return readEnroll(r, flags)
    /* c8 ignore next 2 */
    default:
      throw new Error(`codec bug: type ${type} reached readControl`)
  }
}

const scratch = new RelayHeader()

function decodeRelay(buf: Buffer): Decoded<RelayPacket> {
  const reason = readRelayHeader(buf, scratch)
  if (reason !== null) return { ok: false, reason }
  return { ok: true, value: { type: PacketType.Relay, senderId: scratch.senderId, destId: scratch.destId, inner: buf.subarray(RELAY_PREFIX_BYTES) } }
}
