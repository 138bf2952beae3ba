// Why the edge dropped a packet or frame: codec refusals, authentication, the frame filter,
// and local limits. Each is a counter in /status and /metrics.
import { CODEC_REASONS, zeroCounters } from '../wire/index.js'
import type { CarrierDrop } from '../net/ws-carrier.js'
import { FILTER_REASONS } from './frame-filter.js'

export const EDGE_REASONS = [
  ...CODEC_REASONS,
  'not-for-us', // sealed packet addressed to another edge ID
  'own-packet', // our own edge ID as sender
  'auth-failed', // wrong key or a changed byte
  'replayed',
  'too-old', // behind the replay window
  ...FILTER_REASONS,
  'not-allowed', // refused by --allow (not a listed port, not a reply to the host's own traffic)
  'unverified-peer', // frames of a peer whose record never arrived, or beyond what one such peer may hold
  'pending-full', // frames of a peer whose record has not arrived, beyond what all such peers together may hold
  'peer-table-full',
  'bad-record', // a peer record with a bad signature or of another community
  'unexpected-type', // a packet type an edge never receives, or one at the wrong time
  'unexpected-source', // a control packet from an address that is none of our supernodes
  'unproven-error', // an ERROR from a supernode's address that does not prove it answers us (spoofed)
  'bad-probe',
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
