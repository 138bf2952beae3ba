// Token buckets: one per source address for control packets (a bounded map, so that packets from
// a million spoofed sources cost bounded memory), a lone bucket per registered edge for relayed
// frames, and buckets of bytes for what the relay sends per source address and per community.

export class TokenBucket {
  // `declare`: assigned first in the constructor, not defined as undefined before it (what an
  // ES2022 class field does), so that V8 keeps them as numbers it updates in place; as tagged
  // fields every fractional value written would allocate a HeapNumber, several per relayed frame
  declare tokens: number
  private declare last: number

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst
    this.last = now
  }

  take(now: number): boolean {
    if (!this.has(now, 1)) return false
    this.tokens -= 1
    return true
  }

  /** Refills up to `now`; true when `n` tokens are there (then spend(n) takes them). */
  has(now: number, n: number): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000)
      this.last = now
    }
    return this.tokens >= n
  }

  spend(n: number): void {
    this.tokens -= n
  }
}

export interface RateLimit {
  perSecond: number
  burst: number
}

/**
 * Buckets by key, at most `maxKeys` of them. When full, the whole table is dropped and started
 * again: a flood from many sources then gets at most one burst each per reset, which is bounded,
 * and legitimate sources lose nothing but a refill.
 */
export class RateLimiter {
  private buckets = new Map<string, TokenBucket>()

  constructor(
    private readonly limit: RateLimit,
    private readonly maxKeys: number,
  ) {}

  allow(key: string, now: number): boolean {
    return this.bucketFor(key, now).take(now)
  }

  /** The key's bucket, made full when the key is new (or was dropped with a full table). */
  bucketFor(key: string, now: number): TokenBucket {
    let bucket = this.buckets.get(key)
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) this.buckets = new Map()
      bucket = new TokenBucket(this.limit.perSecond, this.limit.burst, now)
      this.buckets.set(key, bucket)
    }
    return bucket
  }

  get size(): number {
    return this.buckets.size
  }
}
