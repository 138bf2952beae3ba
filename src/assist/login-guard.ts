// Failed logins to the assistance API: slowed down, and locked per presented token, never per
// address. Every local client is 127.0.0.1, so a lock per address let anyone who could send HTTP
// there lock the owner's monitoring GUI out of the off switch. A valid token is never looked up
// here: it is checked first and answered at once, whatever others have failed.
import { createHmac, randomBytes } from 'node:crypto'
import type { Clock } from '../time/clock.js'

/** Failures of one presented token before that token is answered 429 (a client retrying a stale token in a loop). */
export const LOGIN_FAILURES_ALLOWED = 5
export const LOGIN_LOCK_MS = 60_000
/** Each failure is answered this late: guessing is slow, a success is not. */
export const FAILURE_DELAY_MS = 1_000
/**
 * Failures waiting for their answer at once; more are answered 429 at once. With the delay this
 * bounds guessing (and login-failed audit records) to 4 a second from all clients together.
 */
export const MAX_PENDING_FAILURES = 4
/** Distinct failed tokens remembered (the oldest is forgotten first): a bound on memory whatever is sent. */
export const MAX_TRACKED_TOKENS = 1_024

export type FailureVerdict =
  /** answer 401 once `answer` resolves (after FAILURE_DELAY_MS); `failures` counts this token's */
  | { kind: 'failed'; failures: number; answer: Promise<void>; refusedWhileBusy: number }
  /** answer 429 at once: this token failed too often, or too many failures are waiting */
  | { kind: 'locked' | 'busy'; retryAfterSeconds: number }

interface Entry {
  failures: number
  lockedUntil: number
  lastAt: number
}

export class LoginGuard {
  /** keyed by a keyed hash of the presented token: the map never holds what was typed (a near miss of the real token, or another secret pasted by mistake) */
  private readonly entries = new Map<string, Entry>()
  private readonly hashKey = randomBytes(32)
  private pending = 0
  /** failures answered 429 for being too many at once since the last audited one */
  private busyRefusals = 0

  constructor(private readonly clock: Clock) {}

  /** A presented token that is not the valid one. */
  fail(presented: string): FailureVerdict {
    const now = this.clock.now()
    const key = createHmac('sha256', this.hashKey).update(presented).digest('base64url')
    const entry = this.entries.get(key)
    if (entry !== undefined && entry.lockedUntil > now) return { kind: 'locked', retryAfterSeconds: Math.ceil((entry.lockedUntil - now) / 1000) }
    if (this.pending >= MAX_PENDING_FAILURES) {
      this.busyRefusals++
      return { kind: 'busy', retryAfterSeconds: Math.ceil(FAILURE_DELAY_MS / 1000) }
    }
    const updated = entry ?? { failures: 0, lockedUntil: 0, lastAt: now }
    updated.failures++
    updated.lastAt = now
    if (updated.failures >= LOGIN_FAILURES_ALLOWED) updated.lockedUntil = now + LOGIN_LOCK_MS
    // re-inserted: the map's order is the order of last failure, oldest first
    this.entries.delete(key)
    this.remember(key, updated, now)
    const refusedWhileBusy = this.busyRefusals
    this.busyRefusals = 0
    this.pending++
    const answer = new Promise<void>((resolve) => {
      this.clock.after(FAILURE_DELAY_MS, () => {
        this.pending--
        resolve()
      })
    })
    return { kind: 'failed', failures: updated.failures, answer, refusedWhileBusy }
  }

  /** How many failed tokens are remembered (for tests of the bound). */
  get tracked(): number {
    return this.entries.size
  }

  private remember(key: string, entry: Entry, now: number): void {
    if (this.entries.size >= MAX_TRACKED_TOKENS) {
      for (const [k, e] of this.entries) {
        if (e.lockedUntil <= now && now - e.lastAt > LOGIN_LOCK_MS) this.entries.delete(k)
        else break
      }
      if (this.entries.size >= MAX_TRACKED_TOKENS) this.entries.delete(this.entries.keys().next().value!)
    }
    this.entries.set(key, entry)
  }
}
