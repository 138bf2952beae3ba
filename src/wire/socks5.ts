// SOCKS5 (RFC 1928), the part a technician's --socks5 listener speaks: the greeting (no
// authentication is the only method offered, the listener is on the technician's own host), one
// request, and the reply. The bytes come from local programs, untrusted all the same: each read
// returns the message, "need more bytes", or a reason.
//
//   greeting: VER = 5 | NMETHODS (1..255) | METHODS (NMETHODS bytes)        → VER = 5 | METHOD
//   request:  VER = 5 | CMD | RSV = 0 | ATYP | DST.ADDR | DST.PORT (u16)     → VER = 5 | REP | RSV | ATYP = 1 | 0.0.0.0 | 0
//             ATYP 1: IPv4 (4 bytes), 3: a name (length u8 1..255, then the name), 4: IPv6 (16 bytes)
import { formatIPv4, formatIPv6 } from './ip.js'

export const SOCKS_VERSION = 5
export const SOCKS_NO_AUTH = 0x00
export const SOCKS_NO_ACCEPTABLE_METHOD = 0xff
export const SocksCommand = { Connect: 0x01, Bind: 0x02, UdpAssociate: 0x03 } as const
const ATYP_IPV4 = 1
const ATYP_NAME = 3
const ATYP_IPV6 = 4

/** The reply codes of RFC 1928 section 6 this listener sends. */
export const SocksReply = {
  Succeeded: 0x00,
  GeneralFailure: 0x01,
  NotAllowed: 0x02,
  NetworkUnreachable: 0x03,
  HostUnreachable: 0x04,
  ConnectionRefused: 0x05,
  TtlExpired: 0x06,
  CommandNotSupported: 0x07,
  AddressTypeNotSupported: 0x08,
} as const
export type SocksReply = (typeof SocksReply)[keyof typeof SocksReply]

export type SocksReason = 'bad-version' | 'no-methods' | 'nonzero-reserved' | 'bad-address-type' | 'empty-name'

export type SocksRead<T> = { ok: true; value: T; used: number } | { ok: false; reason: SocksReason } | { ok: 'more' }

export interface SocksGreeting {
  methods: number[]
}

export interface SocksRequest {
  command: number
  /** an IPv4 or IPv6 address as text, or the name as sent */
  host: string
  kind: 'ipv4' | 'ipv6' | 'name'
  port: number
}

export function readSocksGreeting(buf: Buffer): SocksRead<SocksGreeting> {
  if (buf.length < 2) return { ok: 'more' }
  if (buf[0] !== SOCKS_VERSION) return { ok: false, reason: 'bad-version' }
  const count = buf[1]!
  if (count === 0) return { ok: false, reason: 'no-methods' }
  if (buf.length < 2 + count) return { ok: 'more' }
  return { ok: true, value: { methods: [...buf.subarray(2, 2 + count)] }, used: 2 + count }
}

export function readSocksRequest(buf: Buffer): SocksRead<SocksRequest> {
  if (buf.length < 5) return { ok: 'more' }
  if (buf[0] !== SOCKS_VERSION) return { ok: false, reason: 'bad-version' }
  if (buf[2] !== 0) return { ok: false, reason: 'nonzero-reserved' }
  const command = buf[1]!
  const atyp = buf[3]!
  let host: string
  let kind: SocksRequest['kind']
  let at: number
  if (atyp === ATYP_IPV4) {
    if (buf.length < 4 + 4 + 2) return { ok: 'more' }
    host = formatIPv4(buf, 4)
    kind = 'ipv4'
    at = 8
  } else if (atyp === ATYP_IPV6) {
    if (buf.length < 4 + 16 + 2) return { ok: 'more' }
    host = formatIPv6(buf, 4)
    kind = 'ipv6'
    at = 20
  } else if (atyp === ATYP_NAME) {
    const length = buf[4]!
    if (length === 0) return { ok: false, reason: 'empty-name' }
    if (buf.length < 5 + length + 2) return { ok: 'more' }
    host = buf.toString('latin1', 5, 5 + length)
    kind = 'name'
    at = 5 + length
  } else {
    return { ok: false, reason: 'bad-address-type' }
  }
  return { ok: true, value: { command, host, kind, port: buf.readUInt16BE(at) }, used: at + 2 }
}

export function encodeSocksMethod(method: number): Buffer {
  return Buffer.from([SOCKS_VERSION, method])
}

/** A reply with a zero bound address: the clients this serves (curl, ssh, browsers) do not use it. */
export function encodeSocksReply(reply: SocksReply): Buffer {
  return Buffer.from([SOCKS_VERSION, reply, 0, ATYP_IPV4, 0, 0, 0, 0, 0, 0])
}
