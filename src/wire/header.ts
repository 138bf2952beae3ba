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

/** Protocol v2: member certificates and pair sessions (docs/PROTOCOL.md). */
export const WIRE_VERSION = 2
/**
 * Protocol v1 (overlan 0.1: one shared data key). Recognised only to say what to upgrade: a
 * supernode answers a v1 HELLO with a v1 COOKIE and refuses everything else of it, logging what to
 * upgrade; an edge that hears a v1 COOKIE knows its supernode is the old one.
 */
export const OLD_WIRE_VERSION = 1
export const HEADER_BYTES = 4

/** Largest datagram either side accepts: a 1518-byte VLAN-tagged Ethernet frame plus overhead fits easily. */
export const MAX_PACKET_BYTES = 2048

export const PacketType = {
  /** edge → supernode: asks for a cookie; padded so that the answer is never larger than the question */
  Hello: 0x01,
  /** supernode → edge: stateless cookie bound to the source address, plus the address seen */
  Cookie: 0x02,
  /** edge → supernode: cookie + the edge's announcement (certificate, candidates, member signature) */
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
  /** edge → supernode → every member: an authority's signed revocation of one certificate */
  Revocation: 0x0c,
  /**
   * technician → supernode → device edge and back: the enrollment handshake of a technician who has
   * no certificate yet (enroll.ts); the flags byte says which leg
   */
  Enroll: 0x0d,
  /**
   * edge → supernode → edge(s): a prefix naming sender and destination, then a session packet
   * (handshake, session data or broadcast) the supernode forwards unopened (relay.ts)
   */
  Relay: 0x11,
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

/**
 * The pair-session types (handshake.ts): edge to edge, direct or inside a RELAY. Kept apart from
 * PacketType because the supernode never decodes them.
 */
export const SESSION_TYPE_FIRST = 0x20
export const SESSION_TYPE_LAST = 0x23
export function isSessionType(type: number): boolean {
  return type >= SESSION_TYPE_FIRST && type <= SESSION_TYPE_LAST
}

/** Packets that carry frames: a stream's send queue drops these first when it is full (control goes first). */
export function isBulkType(type: number): boolean {
  return type === PacketType.Relay || isSessionType(type)
}

/** Largest 64-bit field value we accept: IDs and counters are JavaScript safe integers (2^53 - 1). */
export const MAX_U53 = Number.MAX_SAFE_INTEGER
