// Time as a parameter: edges, supernodes and the assistance service take a Clock so that tests
// can move time (24 hours in milliseconds) instead of sleeping. SystemClock is the real one;
// ManualClock (manual-clock.ts) is the test double.

export interface TimerHandle {
  cancel(): void
}

export interface Clock {
  /** milliseconds since the epoch */
  now(): number
  /** runs `fn` once after `ms`; the handle cancels it */
  after(ms: number, fn: () => void): TimerHandle
  /** runs `fn` every `ms` until cancelled */
  every(ms: number, fn: () => void): TimerHandle
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms)
    t.unref?.()
    return { cancel: () => clearTimeout(t) }
  },
  every(ms, fn) {
    const t = setInterval(fn, ms)
    t.unref?.()
    return { cancel: () => clearInterval(t) }
  },
}
