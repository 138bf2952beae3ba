// A deadline on the wall clock: fires once when clock.now() reaches `at`, however far ahead that is
// and whatever the machine did meanwhile. A single timer is not enough for an expiry: timers run on
// the monotonic clock, which stops while the system is suspended (suspend 5 h and a 24 h session
// would last 29), and Node fires a timer longer than 2^31-1 ms (24.8 days) at once. So the deadline
// compares the wall clock on a short period, and arms an exact timer only for the last stretch.
import type { Clock, TimerHandle } from './clock.js'

/**
 * How often the wall clock is compared: how late a deadline that passed during a suspend (or a
 * wall-clock step) is noticed after the machine runs again; a comparison costs nothing.
 */
export const DEADLINE_CHECK_MS = 1_000

/** Runs `fire` once, at the wall-clock time `at` (at once, asynchronously, if it has passed); the handle cancels it. */
export function deadline(clock: Clock, at: number, fire: () => void, checkMs = DEADLINE_CHECK_MS): TimerHandle {
  let done = false
  let exact: TimerHandle | null = null
  // the last stretch, shorter than a period: ends on time, not up to a period late
  const armExact = (ms: number): void => {
    exact = clock.after(ms, () => {
      exact = null
      check()
    })
  }
  const check = (): void => {
    if (done) return
    const left = at - clock.now()
    if (left <= 0) {
      cancel()
      fire()
    } else if (left < checkMs && exact === null) {
      armExact(left)
    }
  }
  const cancel = (): void => {
    done = true
    periodic.cancel()
    exact?.cancel()
  }
  const periodic = clock.every(checkMs, check)
  // a deadline already past fires from a timer too, never inside the caller: it has not stored the handle yet
  const left = at - clock.now()
  if (left < checkMs) armExact(Math.max(0, left))
  return { cancel }
}
