// The most memory a supernode can hold at its configured limits: what each of its tables holds at
// most, times what one entry costs at its largest (measured, with the heap's slack, by
// test/unit/supernode-memory-bound.test.ts), plus the process around them. Logged at start and shown
// in /status, so that an operator sizes the limits to the machine, not the other way round.
import { MAX_REVOCATIONS } from '../crypto/revocation.js'
import { WS_MEMORY_PER_CONNECTION } from '../net/ws-listener.js'
import { MAX_PACKET_BYTES } from '../wire/index.js'
import { CERTIFICATE_CACHE_ENTRIES, CERTIFICATE_CACHE_ENTRY_BYTES } from './certificate-cache.js'
import { ENROLL_EXCHANGE_ENTRY_BYTES, ENROLL_TRACKED_KEYS, MAX_ENROLL_EXCHANGES } from './enroll-exchanges.js'
import type { RateLimit } from './rate-limit.js'
import { MAX_WAITING_CHECKS } from './signature-checks.js'

const KiB = 1024
const MiB = 1024 * KiB

/** What the limits are meant to fit with the defaults: a small VM's share. */
export const DEFAULT_MEMORY_BOUND = 512 * MiB

export const MEMORY_COSTS = {
  /**
   * node with the code loaded, the socket's receive and send rings and the heap's young generation
   * at its largest, nothing registered (80 MB idle, 115-120 MB relaying and under attack, measured)
   */
  processBytes: 160 * MiB,
  /**
   * one registered edge at its largest (a 400-byte announcement with a 64-byte name, IPv6 and four
   * candidates, a source address and endpoint of its own, its relay bucket) in the registry's maps
   * and the certificate-end queue, with the heap's slack
   */
  edgeBytes: 3 * KiB,
  /** the certificate cache full (CERTIFICATE_CACHE_ENTRIES), whatever the limits */
  certificateCacheBytes: CERTIFICATE_CACHE_ENTRIES * CERTIFICATE_CACHE_ENTRY_BYTES,
  /** the revocation store full (MAX_REVOCATIONS, every community together): a fingerprint and an end in a map */
  revocationBytes: MAX_REVOCATIONS * 256,
  /** one community (its maps, ID, subnet) beyond its members */
  communityBytes: 2 * KiB,
  /** one key of a rate limiter or budget table: an IPv6 address and port as text, a token bucket */
  trackedKeyBytes: 320,
  /** enrollment: the exchange table full and its two rate limiters (per source, per device) at their key limits, whatever the other limits */
  enrollBytes: MAX_ENROLL_EXCHANGES * ENROLL_EXCHANGE_ENTRY_BYTES + 2 * ENROLL_TRACKED_KEYS * 320,
  /**
   * the signature worker, when on: its thread (14-16 MiB of RSS, measured) and the registrations
   * waiting for its verdicts at most (one per check at worst: a copy of the REGISTER, its decoded
   * fields and its closure, under 2 KiB)
   */
  signatureWorkerBytes: 16 * MiB + MAX_WAITING_CHECKS * 2 * KiB,
}

/**
 * The tables keyed by source that hold up to maxTrackedSources keys each: control packets per
 * endpoint and per address, ERRORs per source, relayed bytes per source address and per community.
 */
export const TRACKED_TABLES = 5

export interface MemoryLimits {
  maxCommunities: number
  maxEdgesPerCommunity: number
  maxEdges: number
  maxEdgesPerEndpoint: number
  maxEdgesPerAddress: number
  maxTrackedSources: number
  relayBytesPerSource: RateLimit
  relayBytesPerCommunity: RateLimit
  /** the WebSocket listener's connection limit, when there is one */
  ws?: { maxConnections: number } | null
  /** registrations verified on a worker thread */
  signatureWorker?: boolean
}

export interface MemoryBound {
  bytes: number
  /** the most edges and communities the limits let in, and keys the source tables track */
  edges: number
  communities: number
  trackedKeys: number
  /** WebSocket connections at once (0 without --tcp-port), each up to WS_MEMORY_PER_CONNECTION */
  wsConnections: number
  /** what the signature worker adds (0 without it) */
  signatureWorkerBytes: number
}

export function memoryBound(limits: MemoryLimits): MemoryBound {
  const edges = Math.min(limits.maxEdges, limits.maxCommunities * limits.maxEdgesPerCommunity)
  // a community exists while it has a member
  const communities = Math.min(limits.maxCommunities, edges)
  const trackedKeys = TRACKED_TABLES * limits.maxTrackedSources
  const wsConnections = limits.ws?.maxConnections ?? 0
  const c = MEMORY_COSTS
  const signatureWorkerBytes = limits.signatureWorker === true ? c.signatureWorkerBytes : 0
  const bytes = signatureWorkerBytes + c.processBytes + c.certificateCacheBytes + c.revocationBytes + c.enrollBytes + edges * c.edgeBytes + communities * c.communityBytes + trackedKeys * c.trackedKeyBytes + wsConnections * WS_MEMORY_PER_CONNECTION
  return { bytes, edges, communities, trackedKeys, wsConnections, signatureWorkerBytes }
}

/** The start-up line: the figure and what it is made of. */
export function describeMemoryBound(bound: MemoryBound): string {
  const c = MEMORY_COSTS
  const n = (x: number): string => x.toLocaleString('en-US')
  return (
    `memory bound ${mib(bound.bytes)}: process ${mib(c.processBytes)}${bound.signatureWorkerBytes > 0 ? ` + signature worker ${mib(bound.signatureWorkerBytes)}` : ''} + certificate cache ${mib(c.certificateCacheBytes)} + revocations ${mib(c.revocationBytes)} + enrollment ${mib(c.enrollBytes)} + ${n(bound.edges)} edges × ${n(c.edgeBytes)} B + ` +
    `${n(bound.communities)} communities × ${n(c.communityBytes)} B + ${n(bound.trackedKeys)} tracked source keys × ${n(c.trackedKeyBytes)} B ` +
    (bound.wsConnections > 0 ? `+ ${n(bound.wsConnections)} WebSocket connections × ${n(WS_MEMORY_PER_CONNECTION)} B ` : '') +
    `(--max-edges-total, --max-communities, --max-edges, --max-tracked-sources${bound.wsConnections > 0 ? ', --ws-max-connections' : ''})`
  )
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(0)} MiB`
}

/** Refuses limits that cannot work, naming the field: a relay burst below one datagram relays nothing. */
export function checkMemoryLimits(limits: MemoryLimits): void {
  for (const key of ['maxCommunities', 'maxEdgesPerCommunity', 'maxEdges', 'maxEdgesPerEndpoint', 'maxEdgesPerAddress', 'maxTrackedSources'] as const) {
    if (!Number.isSafeInteger(limits[key]) || limits[key] < 1) throw new RangeError(`${key} must be a positive integer, got ${limits[key]}`)
  }
  for (const key of ['relayBytesPerSource', 'relayBytesPerCommunity'] as const) {
    const { perSecond, burst } = limits[key]
    if (!(perSecond > 0) || !(burst >= MAX_PACKET_BYTES)) throw new RangeError(`${key} needs a rate above 0 and a burst of at least ${MAX_PACKET_BYTES} bytes (one datagram), got ${perSecond}/s, burst ${burst}`)
  }
}
