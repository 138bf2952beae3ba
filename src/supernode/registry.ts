// Who is registered: communities by community ID, edges by edge ID, and inside each community the
// MAC and overlay-address indexes that keep them unique; where edges register from (sources.ts).
// Bounded by the configured limits. Knows nothing about sockets; supernode.ts turns its answers
// into packets.
import { ErrorCode, macKeyAt, u64From, type Endpoint, type OverlayAddress, type PeerRecord } from '../wire/index.js'
import { defaultSubnet, ipv4ToNumber, numberToIpv4, pickAddress, subnetOf, type Subnet } from './auto-ip.js'
import { RateLimiter, TokenBucket, type RateLimit } from './rate-limit.js'
import { Sources, sourceKeyOf, type Source, type SourceLimits } from './sources.js'

export interface RegistryLimits extends SourceLimits {
  maxCommunities: number
  maxEdgesPerCommunity: number
  /** edges of all communities together */
  maxEdges: number
  /** the range communities without an address of their own get a /24 from */
  autoIpRange: Subnet
  relayRate: RateLimit
  /** relayed bytes out per community, per second and at once */
  relayBytesPerCommunity: RateLimit
}

export interface Community {
  id: Buffer
  idHex: string
  members: Map<number, EdgeEntry>
  byMac: Map<number, EdgeEntry>
  byIp: Map<number, EdgeEntry>
  subnet: Subnet | null
  /** bytes the supernode may send to this community's members (fan-out included) */
  relayBudget: TokenBucket
}

/**
 * One registered edge. Kept small (100,000 of them must fit in ~2 KiB each): the signed record is
 * copied into a Buffer of its own (the datagram it came in is not kept alive through views), and
 * what the supernode reads often is in plain fields.
 */
export interface EdgeEntry {
  edgeId: number
  community: Community
  /** the signed record, as the edge sent it: handed to peers unchanged */
  recordBytes: Buffer
  /** the record's timestamp: a newer record replaces an older one */
  timestamp: number
  /**
   * whether the record's edge signature has been checked (the community signature always is):
   * the supernode checks it once, when it first relies on the edge ID (supernode.ts, trusted())
   */
  edgeSignatureChecked: boolean
  name: string
  /** MAC as a 48-bit number: a map key without a string per lookup */
  macKey: number
  overlay: OverlayAddress | null
  ipKey: number
  /** source address and port it registered from; relay and keepalives must come from here */
  address: string
  port: number
  /** the source address (or IPv6 /64) it is counted under, with that source's relay budget */
  source: Source
  /** the client nonce of its registration: the proof of ERRORs about its traffic (unknown-peer) */
  nonce: bigint
  registeredAt: number
  lastSeen: number
  /** made at the edge's first relayed frame: most edges talk directly and never need one */
  relayBucket: TokenBucket | null
  relayedFrames: number
  relayedBytes: number
}

export type RegisterOutcome = { ok: true; edge: EdgeEntry; isNew: boolean } | { ok: false; code: ErrorCode }

/** The edge public key inside a stored record (after the 32-byte community key). */
export function edgeKeyOf(edge: EdgeEntry): Buffer {
  return edge.recordBytes.subarray(32, 64)
}

export function macKeyOf(mac: Buffer): number {
  return macKeyAt(mac, 0)
}

export class Registry {
  readonly communities = new Map<string, Community>()
  readonly edges = new Map<number, EdgeEntry>()
  readonly sources: Sources
  /** kept beyond a community's life, as the sources' budgets (sources.ts): coming back does not refill it */
  private readonly communityBudgets: RateLimiter

  constructor(private readonly limits: RegistryLimits) {
    this.sources = new Sources(limits)
    this.communityBudgets = new RateLimiter(limits.relayBytesPerCommunity, limits.maxTrackedSources)
  }

  /**
   * Adds or refreshes an edge whose record the caller has verified (the community signature, and
   * the edge signature when `edgeSignatureChecked`). An edge that holds the same MAC or address but
   * has not been heard from for `silentAfterMs` may be replaced (the same device restarted with a
   * new edge key), or for `sameAddressSilentMs` when the newcomer registers from the holder's own
   * public address (restarted behind the same NAT: most likely the same device).
   */
  register(input: {
    edgeId: number
    communityId: Buffer
    record: PeerRecord
    edgeSignatureChecked: boolean
    endpoint: Endpoint
    /** the client nonce of the REGISTER */
    nonce: Buffer
    now: number
    silentAfterMs: number
    sameAddressSilentMs: number
  }): RegisterOutcome {
    const { edgeId, record, endpoint, now } = input
    const existing = this.edges.get(edgeId)
    if (existing !== undefined && record.timestamp < existing.timestamp) return { ok: false, code: ErrorCode.StaleRecord }
    // an edge signs a fresh record for every registration: the record it registered with, arriving
    // from another address, is a copy re-sent by someone else (records travel in the clear)
    const moved = existing !== undefined && (existing.address !== endpoint.address || existing.port !== endpoint.port)
    if (moved && record.timestamp === existing.timestamp) return { ok: false, code: ErrorCode.StaleRecord }
    if (existing === undefined && this.edges.size >= this.limits.maxEdges) return { ok: false, code: ErrorCode.SupernodeFull }
    // an edge that stays where it is costs its endpoint and address nothing more; one that moves
    // within its address (a NAT gave it another port) costs only the new endpoint
    const sourceKey = sourceKeyOf(endpoint.address)
    if (existing === undefined || moved) {
      const refusal = this.sources.refusal(sourceKey, endpoint.address, endpoint.port, existing?.source.key === sourceKey)
      if (refusal !== null) return { ok: false, code: refusal === 'endpoint-full' ? ErrorCode.EndpointFull : ErrorCode.AddressFull }
    }

    const idHex = input.communityId.toString('hex')
    let community = this.communities.get(idHex)
    if (community === undefined) {
      if (this.communities.size >= this.limits.maxCommunities) return { ok: false, code: ErrorCode.TooManyCommunities }
      const relayBudget = this.communityBudgets.bucketFor(idHex, now)
      community = { id: input.communityId, idHex, members: new Map(), byMac: new Map(), byIp: new Map(), subnet: null, relayBudget }
    }
    if (existing === undefined && community.members.size >= this.limits.maxEdgesPerCommunity) return { ok: false, code: ErrorCode.CommunityFull }

    const macKey = macKeyOf(record.mac)
    const macHolder = community.byMac.get(macKey)
    if (macHolder !== undefined && macHolder.edgeId !== edgeId) {
      if (!this.replaceable(macHolder, input)) return { ok: false, code: ErrorCode.MacInUse }
      this.remove(macHolder)
    }

    let overlay = record.overlay
    if (overlay !== null) {
      const holder = community.byIp.get(ipv4ToNumber(overlay.address))
      if (holder !== undefined && holder.edgeId !== edgeId) {
        if (!this.replaceable(holder, input)) return { ok: false, code: ErrorCode.AddressInUse }
        this.remove(holder)
      }
    } else if (existing?.overlay) {
      overlay = existing.overlay // keep what was assigned before
    } else {
      const subnet = community.subnet ?? defaultSubnet(this.limits.autoIpRange, community.id)
      const ip = pickAddress(subnet, edgeId, (candidate) => community.byIp.has(candidate))
      if (ip === null) return { ok: false, code: ErrorCode.NoFreeAddress }
      overlay = { address: numberToIpv4(ip), prefix: subnet.prefix }
    }

    if (!this.communities.has(idHex)) this.communities.set(idHex, community)
    if (community.subnet === null && record.overlay !== null) community.subnet = subnetOf(record.overlay.address, record.overlay.prefix)
    else if (community.subnet === null) community.subnet = subnetOf(overlay.address, overlay.prefix)

    if (existing !== undefined) this.unindex(existing)
    let source = existing?.source
    if (existing === undefined || moved) {
      if (existing !== undefined) this.sources.detach(existing.source, existing.address, existing.port)
      source = this.sources.attach(sourceKey, endpoint.address, endpoint.port, now)
    }
    const edge: EdgeEntry = {
      edgeId,
      community,
      recordBytes: existing !== undefined && existing.recordBytes.equals(record.bytes) ? existing.recordBytes : Buffer.from(record.bytes),
      timestamp: record.timestamp,
      edgeSignatureChecked: input.edgeSignatureChecked,
      name: record.name,
      macKey,
      overlay,
      ipKey: ipv4ToNumber(overlay.address),
      address: endpoint.address,
      port: endpoint.port,
      source: source!,
      nonce: u64From(input.nonce),
      registeredAt: existing?.registeredAt ?? now,
      lastSeen: now,
      relayBucket: existing?.relayBucket ?? null,
      relayedFrames: existing?.relayedFrames ?? 0,
      relayedBytes: existing?.relayedBytes ?? 0,
    }
    this.edges.set(edgeId, edge)
    community.members.set(edgeId, edge)
    community.byMac.set(macKey, edge)
    community.byIp.set(edge.ipKey, edge)
    return { ok: true, edge, isNew: existing === undefined }
  }

  /** Removes an edge; a community without members goes too. */
  remove(edge: EdgeEntry): void {
    if (this.edges.get(edge.edgeId) !== edge) return
    this.edges.delete(edge.edgeId)
    this.unindex(edge)
    this.sources.detach(edge.source, edge.address, edge.port)
    edge.community.members.delete(edge.edgeId)
    if (edge.community.members.size === 0) this.communities.delete(edge.community.idHex)
  }

  /** Removes every edge not heard from since `cutoff`; returns them. */
  expire(cutoff: number): EdgeEntry[] {
    const expired: EdgeEntry[] = []
    for (const edge of this.edges.values()) if (edge.lastSeen < cutoff) expired.push(edge)
    for (const edge of expired) this.remove(edge)
    return expired
  }

  findByMac(community: Community, mac: Buffer): EdgeEntry | undefined {
    return community.byMac.get(macKeyOf(mac))
  }

  findByIp(community: Community, address: Buffer): EdgeEntry | undefined {
    return community.byIp.get(address.readUInt32BE(0))
  }

  /** Takes a token from the edge's relay budget (limits.relayRate); false when it is spent. */
  relayAllowed(edge: EdgeEntry, now: number): boolean {
    edge.relayBucket ??= new TokenBucket(this.limits.relayRate.perSecond, this.limits.relayRate.burst, now)
    return edge.relayBucket.take(now)
  }

  private replaceable(
    holder: EdgeEntry,
    { record, endpoint, now, silentAfterMs, sameAddressSilentMs }: { record: PeerRecord; endpoint: Endpoint; now: number; silentAfterMs: number; sameAddressSilentMs: number },
  ): boolean {
    // the same MAC asking for the same (or any) address: the device restarted with a new edge key
    const sameDevice = holder.macKey === macKeyOf(record.mac) && (record.overlay === null || holder.overlay?.address === record.overlay.address)
    const silentMs = now - holder.lastSeen
    return sameDevice || silentMs >= silentAfterMs || (endpoint.address === holder.address && silentMs >= sameAddressSilentMs)
  }

  private unindex(edge: EdgeEntry): void {
    const c = edge.community
    if (c.byMac.get(edge.macKey) === edge) c.byMac.delete(edge.macKey)
    if (c.byIp.get(edge.ipKey) === edge) c.byIp.delete(edge.ipKey)
  }
}

