// Who is registered: communities by community ID, edges by edge ID (the hash of the member key),
// inside each community the MAC and overlay-address indexes that keep them unique, and the order
// in which their certificates end; where edges register from (sources.ts).
// Bounded by the configured limits. Knows nothing about sockets; supernode.ts turns its answers
// into packets.
import type { Role } from '../wire/certificate.js'
import { ErrorCode, macKeyAt, u64From, type Endpoint, type OverlayAddress } from '../wire/index.js'
import { defaultSubnet, ipv4ToNumber, numberToIpv4, pickAddress, subnetOf, type Subnet } from './auto-ip.js'
import { ExpiryQueue, NOT_QUEUED, type Expiring } from './expiry-queue.js'
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
  /** by the certificate's IPv6 address (text, as decoded), for members whose certificate has one */
  byIp6: Map<string, EdgeEntry>
  subnet: Subnet | null
  /** bytes the supernode may send to this community's members (fan-out included) */
  relayBudget: TokenBucket
}

/**
 * What a REGISTER claims, once the supernode has checked it: a certificate valid now and signed by
 * the community's authority, and an announcement signed by the certificate's member key.
 */
export interface MemberClaim {
  /** the announcement as the edge signed it (a view into the datagram: the registry keeps a copy) */
  announcement: Buffer
  /** the announcement's timestamp: a newer one replaces an older one */
  timestamp: number
  /** the certificate's fingerprint (hex): revocations name it */
  fingerprint: string
  /** the certificate's end, seconds since the epoch */
  notAfter: number
  name: string
  role: Role
  mac: Buffer
  /** null: the certificate has no IPv4 overlay, the supernode assigns one (auto-IP) */
  ipv4: OverlayAddress | null
  ipv6: OverlayAddress | null
}

/**
 * One registered edge. Kept small (100,000 of them must fit in ~2 KiB each): the signed
 * announcement is copied into a Buffer of its own (the datagram it came in is not kept alive
 * through views), and what the supernode reads often is in plain fields.
 */
export interface EdgeEntry extends Expiring {
  /** edgeIdOf(the certificate's member key): the same key is the same holder */
  edgeId: number
  community: Community
  /** the announcement (certificate, timestamp, candidates, member signature): handed to peers unchanged */
  announcement: Buffer
  timestamp: number
  fingerprint: string
  name: string
  role: Role
  /** MAC as a 48-bit number: a map key without a string per lookup */
  macKey: number
  /** the certificate's IPv4 overlay, or the one assigned */
  overlay: OverlayAddress
  ipKey: number
  /** the certificate's IPv6 address, or null */
  ip6Key: string | null
  /** source address and port it registered from; relay and keepalives must come from here */
  address: string
  port: number
  /** the source address (or IPv6 /64) it is counted under, with that source's relay budget */
  source: Source
  /** the client nonce of its registration: the proof of ERRORs about it (unknown-peer, certificate-expired, certificate-revoked) */
  nonce: bigint
  registeredAt: number
  lastSeen: number
  /** made at the edge's first relayed frame: most edges talk directly and never need one */
  relayBucket: TokenBucket | null
  relayedFrames: number
  relayedBytes: number
}

export type RegisterOutcome = { ok: true; edge: EdgeEntry; isNew: boolean } | { ok: false; code: ErrorCode }

export function macKeyOf(mac: Buffer): number {
  return macKeyAt(mac, 0)
}

export class Registry {
  readonly communities = new Map<string, Community>()
  readonly edges = new Map<number, EdgeEntry>()
  readonly sources: Sources
  /** every registered edge by its certificate's notAfter: unregistered at that second (expireCertificates) */
  private readonly endings = new ExpiryQueue<EdgeEntry>()
  /** kept beyond a community's life, as the sources' budgets (sources.ts): coming back does not refill it */
  private readonly communityBudgets: RateLimiter

  constructor(private readonly limits: RegistryLimits) {
    this.sources = new Sources(limits)
    this.communityBudgets = new RateLimiter(limits.relayBytesPerCommunity, limits.maxTrackedSources)
  }

  /**
   * Adds or refreshes an edge whose claim the caller has verified. Holders are keyed by member key
   * (the edge ID is its hash): the same key takes its own place at once, from any address, with a
   * newer announcement (an edge restarted with a persisted identity). A MAC, IPv4 or IPv6 address
   * held by another key stays with its holder until that holder has been silent for
   * `silentAfterMs`: a newcomer never evicts a live holder, whatever it claims.
   */
  register(input: {
    edgeId: number
    communityId: Buffer
    /** communityId in hex, when the caller has it already */
    communityHex?: string
    claim: MemberClaim
    endpoint: Endpoint
    /** the client nonce of the REGISTER */
    nonce: Buffer
    now: number
    silentAfterMs: number
  }): RegisterOutcome {
    const { edgeId, claim, endpoint, now } = input
    const existing = this.edges.get(edgeId)
    if (existing !== undefined && claim.timestamp < existing.timestamp) return { ok: false, code: ErrorCode.StaleRecord }
    // an edge signs a fresh announcement for every registration: the one it registered with,
    // arriving from another address, is a copy re-sent by someone else (announcements travel in the clear)
    const moved = existing !== undefined && (existing.address !== endpoint.address || existing.port !== endpoint.port)
    if (moved && claim.timestamp === existing.timestamp) return { ok: false, code: ErrorCode.StaleRecord }
    if (existing === undefined && this.edges.size >= this.limits.maxEdges) return { ok: false, code: ErrorCode.SupernodeFull }
    // an edge that stays where it is costs its endpoint and address nothing more; one that moves
    // within its address (a NAT gave it another port) costs only the new endpoint
    const sourceKey = existing === undefined || moved ? sourceKeyOf(endpoint.address) : existing.source.key
    if (existing === undefined || moved) {
      const refusal = this.sources.refusal(sourceKey, endpoint.address, endpoint.port, existing?.source.key === sourceKey)
      if (refusal !== null) return { ok: false, code: refusal === 'endpoint-full' ? ErrorCode.EndpointFull : ErrorCode.AddressFull }
    }

    const idHex = input.communityHex ?? input.communityId.toString('hex')
    let community = this.communities.get(idHex)
    if (community === undefined) {
      if (this.communities.size >= this.limits.maxCommunities) return { ok: false, code: ErrorCode.TooManyCommunities }
      const relayBudget = this.communityBudgets.bucketFor(idHex, now)
      community = { id: input.communityId, idHex, members: new Map(), byMac: new Map(), byIp: new Map(), byIp6: new Map(), subnet: null, relayBudget }
    }
    // the same key in another community (an identity used for another session): one edge ID is one
    // registration per supernode, so it leaves the first community once this one admits it
    const sameCommunity = existing?.community.idHex === idHex
    if (!sameCommunity && community.members.size >= this.limits.maxEdgesPerCommunity) return { ok: false, code: ErrorCode.CommunityFull }

    // every claim is checked before any holder goes: a refusal removes nobody
    const macKey = macKeyOf(claim.mac)
    const macHolder = this.otherHolder(community.byMac.get(macKey), edgeId)
    if (macHolder !== null && !silentFor(macHolder, now, input.silentAfterMs)) return { ok: false, code: ErrorCode.MacInUse }
    const ipHolder = claim.ipv4 === null ? null : this.otherHolder(community.byIp.get(ipv4ToNumber(claim.ipv4.address)), edgeId)
    const ip6Key = claim.ipv6?.address ?? null
    const ip6Holder = ip6Key === null ? null : this.otherHolder(community.byIp6.get(ip6Key), edgeId)
    for (const holder of [ipHolder, ip6Holder]) if (holder !== null && !silentFor(holder, now, input.silentAfterMs)) return { ok: false, code: ErrorCode.AddressInUse }
    if (existing !== undefined && sameCommunity && !moved && this.sameClaims(existing, macKey, claim.ipv4, ip6Key)) {
      // the steady case of a member registering again from where it is, claiming what it holds:
      // the entry is updated where it stands (its indexes stay as they are)
      this.refresh(existing, claim, input.nonce, now)
      return { ok: true, edge: existing, isNew: false }
    }

    let overlay = claim.ipv4
    if (overlay === null) {
      // a certificate without IPv4 (W2): keep what was assigned before, else pick one
      if (existing !== undefined && sameCommunity) overlay = existing.overlay
      else {
        const inCommunity = community
        const subnet = inCommunity.subnet ?? defaultSubnet(this.limits.autoIpRange, inCommunity.id)
        const ip = pickAddress(subnet, edgeId, (candidate) => inCommunity.byIp.has(candidate))
        if (ip === null) return { ok: false, code: ErrorCode.NoFreeAddress }
        overlay = { address: numberToIpv4(ip), prefix: subnet.prefix }
      }
    }
    for (const holder of [macHolder, ipHolder, ip6Holder]) if (holder !== null) this.remove(holder)

    if (!this.communities.has(idHex)) this.communities.set(idHex, community)
    community.subnet ??= subnetOf(overlay.address, overlay.prefix)

    let source = existing?.source
    if (existing !== undefined && !sameCommunity) {
      this.remove(existing)
      source = this.sources.attach(sourceKey, endpoint.address, endpoint.port, now)
    } else if (existing !== undefined) {
      this.unindex(existing)
      this.endings.remove(existing)
      if (moved) {
        this.sources.detach(existing.source, existing.address, existing.port)
        source = this.sources.attach(sourceKey, endpoint.address, endpoint.port, now)
      }
    } else {
      source = this.sources.attach(sourceKey, endpoint.address, endpoint.port, now)
    }
    const edge: EdgeEntry = {
      edgeId,
      community,
      announcement: existing !== undefined && existing.announcement.equals(claim.announcement) ? existing.announcement : Buffer.from(claim.announcement),
      timestamp: claim.timestamp,
      fingerprint: claim.fingerprint,
      notAfter: claim.notAfter,
      expiryIndex: NOT_QUEUED,
      name: claim.name,
      role: claim.role,
      macKey,
      overlay,
      ipKey: ipv4ToNumber(overlay.address),
      ip6Key,
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
    if (ip6Key !== null) community.byIp6.set(ip6Key, edge)
    this.endings.set(edge)
    return { ok: true, edge, isNew: !sameCommunity }
  }

  /** Whether a registration claims the MAC and addresses `edge` holds now (no IPv4: the one it was assigned). */
  private sameClaims(edge: EdgeEntry, macKey: number, ipv4: OverlayAddress | null, ip6Key: string | null): boolean {
    if (edge.macKey !== macKey || edge.ip6Key !== ip6Key) return false
    return ipv4 === null || (ipv4.address === edge.overlay.address && ipv4.prefix === edge.overlay.prefix)
  }

  /** A newer announcement for an edge that keeps its place, MAC and addresses. */
  private refresh(edge: EdgeEntry, claim: MemberClaim, nonce: Buffer, now: number): void {
    if (!edge.announcement.equals(claim.announcement)) edge.announcement = Buffer.from(claim.announcement)
    edge.timestamp = claim.timestamp
    edge.fingerprint = claim.fingerprint
    edge.name = claim.name
    edge.role = claim.role
    edge.nonce = u64From(nonce)
    edge.lastSeen = now
    if (edge.notAfter !== claim.notAfter) {
      // a renewed certificate: its end moves in the queue
      this.endings.remove(edge)
      edge.notAfter = claim.notAfter
      this.endings.set(edge)
    }
  }

  /** Removes an edge; a community without members goes too. */
  remove(edge: EdgeEntry): void {
    if (this.edges.get(edge.edgeId) !== edge) return
    this.edges.delete(edge.edgeId)
    this.unindex(edge)
    this.endings.remove(edge)
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

  /** Removes every edge whose certificate has ended by `nowSeconds`; returns them. */
  expireCertificates(nowSeconds: number): EdgeEntry[] {
    const ended: EdgeEntry[] = []
    for (let edge = this.endings.popDue(nowSeconds); edge !== undefined; edge = this.endings.popDue(nowSeconds)) {
      ended.push(edge)
      this.remove(edge)
    }
    return ended
  }

  /** The registered member of `community` (hex ID) whose certificate has this fingerprint (hex). */
  findByFingerprint(communityHex: string, fingerprint: string): EdgeEntry | undefined {
    const community = this.communities.get(communityHex)
    if (community === undefined) return undefined
    for (const edge of community.members.values()) if (edge.fingerprint === fingerprint) return edge
    return undefined
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

  /** `holder` when it is another key's (the same key is the same holder), else null. */
  private otherHolder(holder: EdgeEntry | undefined, edgeId: number): EdgeEntry | null {
    return holder !== undefined && holder.edgeId !== edgeId ? holder : null
  }

  private unindex(edge: EdgeEntry): void {
    const c = edge.community
    if (c.byMac.get(edge.macKey) === edge) c.byMac.delete(edge.macKey)
    if (c.byIp.get(edge.ipKey) === edge) c.byIp.delete(edge.ipKey)
    if (edge.ip6Key !== null && c.byIp6.get(edge.ip6Key) === edge) c.byIp6.delete(edge.ip6Key)
  }
}

/** Whether a holder has been silent long enough to be replaced by another key. */
function silentFor(holder: EdgeEntry, now: number, silentAfterMs: number): boolean {
  return now - holder.lastSeen >= silentAfterMs
}
