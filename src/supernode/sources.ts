// Where registered edges come from: how many edges each source endpoint (address and port) and
// each source address holds, and each source address's budget of relayed bytes. An IPv6 /64 counts
// as one address: a site gets a whole /64, so whoever holds one can use 2^64 source addresses.
import { ipv6Prefix64 } from '../wire/index.js'
import { RateLimiter, type RateLimit, type TokenBucket } from './rate-limit.js'

/** The key a source address is counted under: the IPv4 address itself, or its IPv6 /64. */
export function sourceKeyOf(address: string): string {
  return address.includes(':') ? ipv6Prefix64(address) : address
}

/** One source address (or /64) that has edges registered: shared by those edges' entries. */
export interface Source {
  readonly key: string
  edges: number
  /** bytes the supernode may send on behalf of this source's edges (fan-out included) */
  readonly relayBudget: TokenBucket
}

export interface SourceLimits {
  maxEdgesPerEndpoint: number
  maxEdgesPerAddress: number
  /** relayed bytes out per source address, per second and at once */
  relayBytesPerSource: RateLimit
  /** how many source addresses' budgets are kept (also after their last edge left) */
  maxTrackedSources: number
}

export type SourceRefusal = 'endpoint-full' | 'address-full'

export class Sources {
  private readonly byKey = new Map<string, Source>()
  /** edges per "address:port" (the full address: a /64 has many endpoints) */
  private readonly perEndpoint = new Map<string, number>()
  /**
   * Budgets outlive the sources they were made for (a bounded table, as the control rate limiter):
   * a source that deregisters its last edge and registers again gets its spent budget back, not a
   * full one.
   */
  private readonly budgets: RateLimiter

  constructor(private readonly limits: SourceLimits) {
    this.budgets = new RateLimiter(limits.relayBytesPerSource, limits.maxTrackedSources)
  }

  /**
   * Why one more edge may not register from address:port, counted under `key` (sourceKeyOf(address)),
   * or null when it may. `sameSource`: an edge already counted under `key` moves to another port.
   */
  refusal(key: string, address: string, port: number, sameSource: boolean): SourceRefusal | null {
    if ((this.perEndpoint.get(endpointKey(address, port)) ?? 0) >= this.limits.maxEdgesPerEndpoint) return 'endpoint-full'
    if (!sameSource && (this.byKey.get(key)?.edges ?? 0) >= this.limits.maxEdgesPerAddress) return 'address-full'
    return null
  }

  /** Counts one more edge at address:port; returns the source it is counted under. */
  attach(key: string, address: string, port: number, now: number): Source {
    let source = this.byKey.get(key)
    if (source === undefined) {
      source = { key, edges: 0, relayBudget: this.budgets.bucketFor(key, now) }
      this.byKey.set(key, source)
    }
    source.edges++
    const endpoint = endpointKey(address, port)
    this.perEndpoint.set(endpoint, (this.perEndpoint.get(endpoint) ?? 0) + 1)
    return source
  }

  /** Counts one edge fewer at address:port; a source without edges is forgotten (its budget is kept). */
  detach(source: Source, address: string, port: number): void {
    source.edges--
    if (source.edges <= 0) this.byKey.delete(source.key)
    const endpoint = endpointKey(address, port)
    const left = (this.perEndpoint.get(endpoint) ?? 1) - 1
    if (left <= 0) this.perEndpoint.delete(endpoint)
    else this.perEndpoint.set(endpoint, left)
  }

  /** Source addresses (or /64s) that hold at least one edge. */
  get size(): number {
    return this.byKey.size
  }

  /** Edges registered from address:port. */
  edgesAt(address: string, port: number): number {
    return this.perEndpoint.get(endpointKey(address, port)) ?? 0
  }

  /** Edges registered from the address (or /64) of `key`. */
  edgesFrom(key: string): number {
    return this.byKey.get(key)?.edges ?? 0
  }
}

function endpointKey(address: string, port: number): string {
  return `${address}:${port}`
}
