// Why the edge dropped a packet or frame: codec refusals, certificates, the frame filter, and local
// limits. Each is a counter in /status and /metrics, together with the pair sessions' own reasons
// (src/crypto/session-table.ts SESSION_DROP_REASONS).
import { CODEC_REASONS, zeroCounters } from '../wire/index.js'
import type { CarrierDrop } from '../net/ws-carrier.js'
import { CERTIFICATE_FAILURES } from '../crypto/certificate.js'
import { CERTIFICATE_REASONS } from '../wire/certificate.js'
import { SESSION_CODEC_REASONS } from '../wire/handshake.js'
import { FILTER_REASONS } from './frame-filter.js'

/** A peer certificate's refusals (decoding, then checking) not already among the codec's reasons. */
const PEER_CERTIFICATE_REASONS = [...CERTIFICATE_REASONS, ...CERTIFICATE_FAILURES].filter((r) => !(CODEC_REASONS as readonly string[]).includes(r)) as Exclude<
  (typeof CERTIFICATE_REASONS)[number] | (typeof CERTIFICATE_FAILURES)[number],
  (typeof CODEC_REASONS)[number]
>[]

/** The session codec's reasons (a broadcast's header, a broadcast key's payload) not already among the codec's. */
const SESSION_ONLY_CODEC_REASONS = SESSION_CODEC_REASONS.filter((r) => !(CODEC_REASONS as readonly string[]).includes(r)) as Exclude<
  (typeof SESSION_CODEC_REASONS)[number],
  (typeof CODEC_REASONS)[number]
>[]

export const EDGE_REASONS = [
  ...CODEC_REASONS,
  ...SESSION_ONLY_CODEC_REASONS,
  'not-for-us', // a RELAY addressed to another edge ID
  'own-packet', // a RELAY with our own edge ID as sender
  'auth-failed', // a broadcast whose tag did not verify (pair sessions count their own)
  'replayed', // a broadcast counter seen before
  'too-old', // a broadcast counter behind its key's replay window
  'unknown-broadcast-key', // a broadcast under a key ID its sender never gave us, or one past its valid-for time
  ...FILTER_REASONS,
  'not-allowed', // refused by --allow (not a listed port, not a reply to the host's own traffic)
  'pending-peer-full', // frames for a peer whose session is not ready, beyond what one peer may hold
  'pending-full', // frames waiting for sessions, beyond what all peers together may hold
  'peer-removed', // frames that waited for a peer's session when the peer was removed
  'handshake-failed', // frames that waited for a handshake that went unanswered
  'peer-table-full',
  ...PEER_CERTIFICATE_REASONS, // a peer's certificate refused (malformed, another community, expired, revoked, forged)
  'bad-announcement', // a peer announcement that does not decode, or whose member signature does not verify
  'mac-in-use', // a certificate claiming our MAC, or the MAC of a peer with a live session
  'address-in-use', // a certificate claiming our overlay address, or one of a peer with a live session
  'stale-certificate', // an announcement older than the one we hold for that member
  'own-certificate', // our own certificate, handed back as a peer
  'technician-pair', // a technician's certificate offered to a technician's edge: technicians never pair
  'no-peer', // a session packet that opened but whose peer has just been removed
  'unexpected-type', // a packet type an edge never receives, or one at the wrong time
  'unexpected-source', // a control packet from an address that is none of our supernodes
  'unproven-error', // an ERROR from a supernode's address that does not prove it answers us (spoofed)
  'bad-probe',
  'bad-receipt-part', // a receipt piece or confirmation (SESSION_DATA kind 5) that does not decode or fit its transfer
  'receipt-refused', // a confirmation of no delivery of ours, or a peer's receipt beyond MAX_RECEIPTS_PER_PEER
  'send-queue-full',
  'no-supernode', // a frame for the relay while no supernode is registered
  'fallback-queue-full', // the oldest frame waiting for a slow fallback stream (or control beyond its bound)
  'fallback-closed', // sent to a fallback stream that had just closed
  'fallback-not-binary', // a text message on a fallback stream (every datagram is a binary message)
  'frame-too-large',
  'tap-write-failed',
] as const
export type EdgeReason = (typeof EDGE_REASONS)[number]

export function edgeDropCounters(): Record<EdgeReason, number> {
  return zeroCounters(EDGE_REASONS)
}

/** The fallback stream's drop reasons are edge reasons (checked here, so the two lists stay one). */
export const CARRIER_DROPS_ARE_EDGE_REASONS: CarrierDrop extends EdgeReason ? true : never = true
