// The common packet header, the packet types and the sizes every other wire module builds on.
// docs/PROTOCOL.md is the prose version of this file; keep the two in step.
//
// Every overlan datagram starts with the same four bytes:
//
//    0               1               2               3
//    0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//   +---------------+---------------+---------------+---------------+
//   |    version    |     type      |  flags/kind   |   reserved 0  |
//   +---------------+---------------+---------------+---------------+
//
// "flags/kind" is per type (the query kind of PEER_QUERY, the error code of ERROR, the frame
// flags of sealed packets); types that define no flags require it to be zero.

export const WIRE_VERSION = 1
export const HEADER_BYTES = 4

/** Largest datagram either side accepts: a 1518-byte VLAN-tagged Ethernet frame plus overhead fits easily. */
export const MAX_PACKET_BYTES = 2048

export const PacketType = {
  /** edge → supernode: asks for a cookie; padded so that the answer is never larger than the question */
  Hello: 0x01,
  /** supernode → edge: stateless cookie bound to the source address, plus the address seen */
  Cookie: 0x02,
  /** edge → supernode: cookie + signed peer record */
  Register: 0x03,
  /** supernode → edge: registration accepted, reflexive address, assigned overlay address */
  RegisterAck: 0x04,
  /** edge → supernode: holds the registration and the NAT mapping */
  Keepalive: 0x05,
  /** supernode → edge: echo of a keepalive, for round-trip time */
  KeepaliveAck: 0x06,
  /** edge → supernode: who is this edge / MAC / IP? */
  PeerQuery: 0x07,
  /** supernode → edge: the answer to a peer query */
  PeerInfo: 0x08,
  /** supernode → edge: another edge wants to reach you; probe it now */
  PunchRequest: 0x09,
  /** edge → supernode: leaving, signed by the edge key */
  Deregister: 0x0a,
  /** supernode → edge: a refusal with a code */
  Error: 0x0b,
  /** edge → edge, direct: encrypted Ethernet frame */
  Data: 0x10,
  /** edge → supernode → edge(s): encrypted Ethernet frame the supernode forwards unopened */
  Relay: 0x11,
  /** edge → edge: encrypted path probe (also the direct path's keepalive) */
  Probe: 0x12,
  /** edge → edge: encrypted answer to a probe */
  ProbeAck: 0x13,
} as const
export type PacketType = (typeof PacketType)[keyof typeof PacketType]

const KNOWN_TYPES = new Set<number>(Object.values(PacketType))
export function isPacketType(value: number): value is PacketType {
  return KNOWN_TYPES.has(value)
}

export function packetTypeName(type: PacketType): string {
  for (const [name, value] of Object.entries(PacketType)) if (value === type) return name
  /* c8 ignore next */
  return `0x${(type as number).toString(16)}`
}

/** Types that travel inside the sealed (AEAD) layout of sealed.ts. */
export function isSealedType(type: number): boolean {
  return type === PacketType.Data || type === PacketType.Relay || type === PacketType.Probe || type === PacketType.ProbeAck
}

/** Largest 64-bit field value we accept: IDs and counters are JavaScript safe integers (2^53 - 1). */
export const MAX_U53 = Number.MAX_SAFE_INTEGER
