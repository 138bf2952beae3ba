// Field layouts shared by several packet types: endpoints, overlay addresses, MACs, names.
import { Writer, type Reader } from './cursor.js'
import { formatIPv4, formatIPv6, ipFamily, writeIPv4, writeIPv6 } from './ip.js'

/**
 * Endpoint, 19 bytes: where a UDP socket can be reached.
 *
 *   family (1: 4 or 6) | port (2) | address (16; IPv4 in the first 4, the other 12 zero)
 */
export const ENDPOINT_BYTES = 19

export interface Endpoint {
  family: 4 | 6
  address: string
  port: number
}

/** The endpoint of a datagram's source (an address node's sockets report: valid IPv4 or IPv6 text). */
export function endpointOf(address: string, port: number): Endpoint {
  return { family: ipFamily(address) === 6 ? 6 : 4, address, port }
}

export function writeEndpoint(w: Writer, endpoint: Endpoint): void {
  const family = ipFamily(endpoint.address)
  if (family === null || family !== endpoint.family) throw new RangeError(`not an IPv${endpoint.family} address: ${endpoint.address}`)
  if (!Number.isInteger(endpoint.port) || endpoint.port < 1 || endpoint.port > 65535) throw new RangeError(`bad port: ${endpoint.port}`)
  w.u8(family).u16(endpoint.port)
  if (family === 4) writeIPv4(endpoint.address, w.buf, w.pos)
  else writeIPv6(endpoint.address, w.buf, w.pos)
  w.skip(16)
}

export function readEndpoint(r: Reader): Endpoint {
  const family = r.u8()
  const port = r.u16()
  const raw = r.bytes(16)
  if (r.reason !== null) return { family: 4, address: '0.0.0.0', port: 0 }
  if ((family !== 4 && family !== 6) || port === 0) {
    r.fail('bad-endpoint')
    return { family: 4, address: '0.0.0.0', port: 0 }
  }
  if (family === 4) {
    for (let i = 4; i < 16; i++) if (raw[i] !== 0) r.fail('bad-endpoint')
    return { family, address: formatIPv4(raw, 0), port }
  }
  return { family, address: formatIPv6(raw, 0), port }
}

/**
 * Overlay address, 5 bytes: an IPv4 address on the virtual LAN and its prefix length.
 * All five bytes zero means "none" (an edge asking the supernode to assign one).
 */
export const OVERLAY_BYTES = 5

export interface OverlayAddress {
  address: string
  prefix: number
}

/** Parses "10.9.0.1/24" (prefix 1 to 30, not 0.0.0.0); null when it is not one. */
export function parseOverlayAddress(text: string): OverlayAddress | null {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(text)
  if (!match || ipFamily(match[1]!) !== 4 || match[1] === '0.0.0.0') return null
  const prefix = Number(match[2])
  return prefix >= 1 && prefix <= 30 ? { address: match[1]!, prefix } : null
}

export function writeOverlay(w: Writer, overlay: OverlayAddress | null): void {
  if (overlay === null) {
    w.skip(OVERLAY_BYTES)
    return
  }
  if (ipFamily(overlay.address) !== 4 || overlay.address === '0.0.0.0') throw new RangeError(`bad overlay address: ${overlay.address}`)
  if (!Number.isInteger(overlay.prefix) || overlay.prefix < 1 || overlay.prefix > 32) throw new RangeError(`bad prefix: ${overlay.prefix}`)
  writeIPv4(overlay.address, w.buf, w.pos)
  w.skip(4).u8(overlay.prefix)
}

export function readOverlay(r: Reader): OverlayAddress | null {
  const raw = r.bytes(4)
  const prefix = r.u8()
  if (r.reason !== null) return null
  const zero = raw.readUInt32BE(0) === 0
  if (zero && prefix === 0) return null
  if (zero || prefix < 1 || prefix > 32) {
    r.fail('bad-overlay-address')
    return null
  }
  return { address: formatIPv4(raw, 0), prefix }
}

export const MAC_BYTES = 6

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':')
}

/** Parses "aa:bb:cc:dd:ee:ff" (or with dashes); null when it is not a MAC. */
export function parseMac(text: string): Buffer | null {
  const parts = text.split(/[:-]/)
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) return null
  return Buffer.from(parts.map((p) => parseInt(p, 16)))
}

/** Unicast, not all zero: the only kind of MAC an edge may own. */
export function isUnicastMac(mac: Uint8Array): boolean {
  return (mac[0]! & 1) === 0 && mac.some((b) => b !== 0)
}

/** Names are shown in consoles and audit logs: short, UTF-8, no control characters. */
export const MAX_NAME_BYTES = 32

export function isValidName(name: string, maxBytes = MAX_NAME_BYTES): boolean {
  // eslint-disable-next-line no-control-regex
  return Buffer.byteLength(name) <= maxBytes && !/[\u0000-\u001f\u007f]/.test(name)
}

/** Local candidates an edge announces (its LAN addresses); more is rarely useful and costs bytes. */
export const MAX_CANDIDATES = 4

export const KEY_BYTES = 32
export const SIGNATURE_BYTES = 64

export function encodeEndpoint(endpoint: Endpoint): Buffer {
  const w = new Writer(ENDPOINT_BYTES)
  writeEndpoint(w, endpoint)
  return w.done()
}
