// Who asked which device what: the supernode's memory of enrollment asks (ENROLL, wire/enroll.ts),
// so that a device's answer goes back only to the address that asked under that exchange, and only
// within ENROLL_ANSWER_WINDOW_MS of its last ask. Bounded: MAX_ENROLL_EXCHANGES entries, the
// oldest dropped first once it has fallen silent; a table full of live asks refuses new ones
// (the per-source and per-device rate limits keep one asker from filling it).

/** A waiting technician asks about once a second; an answer later than this goes nowhere. */
export const ENROLL_ANSWER_WINDOW_MS = 30_000
/**
 * Exchanges remembered at once, every device together: 20 new asks a second per device (the
 * default per-device limit) for 30 s is 600, so this holds several devices under attack at once.
 */
export const MAX_ENROLL_EXCHANGES = 4096
/**
 * Keys each enrollment rate limiter (per source, per device) tracks: asks are rare, so a small table;
 * a flood from more sources than this restarts it, and the per-device limit still caps what reaches a device.
 */
export const ENROLL_TRACKED_KEYS = 4096
/** What one entry costs at most (key text, entry object, map slot, heap slack): memory-bound.ts */
export const ENROLL_EXCHANGE_ENTRY_BYTES = 400

export interface Asker {
  address: string
  /** the route the ask came in on (net/route.ts): a reply leaves the way the ask came */
  route: number
  askedAt: number
}

export type AskNoted = 'noted' | 'taken' | 'full'

export class EnrollExchanges {
  /** "deviceId:exchange(hex)" → asker; Map order is ask order (an entry is moved to the end at each ask) */
  private readonly askers = new Map<string, Asker>()

  constructor(private readonly max = MAX_ENROLL_EXCHANGES) {}

  get size(): number {
    return this.askers.size
  }

  /**
   * Records an ask (its source already proved by a cookie). 'taken': another address holds this
   * exchange and asked within the window (a guessed or copied exchange does not divert answers);
   * 'full': the table holds only live asks.
   */
  note(deviceId: number, exchange: Buffer, address: string, route: number, now: number): AskNoted {
    const key = keyOf(deviceId, exchange)
    const held = this.askers.get(key)
    if (held !== undefined && now - held.askedAt < ENROLL_ANSWER_WINDOW_MS && (held.address !== address || held.route !== route)) return 'taken'
    if (held !== undefined) this.askers.delete(key)
    else if (this.askers.size >= this.max && !this.dropOldestSilent(now)) return 'full'
    this.askers.set(key, { address, route, askedAt: now })
    return 'noted'
  }

  /** Where an answer to this exchange goes, or null when nobody asked under it within the window. */
  askerOf(deviceId: number, exchange: Buffer, now: number): Asker | null {
    const asker = this.askers.get(keyOf(deviceId, exchange))
    return asker !== undefined && now - asker.askedAt < ENROLL_ANSWER_WINDOW_MS ? asker : null
  }

  /** The first entry is the one that asked longest ago: dropped when its window is over. */
  private dropOldestSilent(now: number): boolean {
    for (const [key, asker] of this.askers) {
      if (now - asker.askedAt < ENROLL_ANSWER_WINDOW_MS) return false
      this.askers.delete(key)
      return true
    }
    return false
  }
}

function keyOf(deviceId: number, exchange: Buffer): string {
  return `${deviceId}:${exchange.toString('hex')}`
}
