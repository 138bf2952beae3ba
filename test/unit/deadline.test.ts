// The wall-clock deadline behind the assistance expiry and the edge's --expires-at: it fires once,
// on time, at once after a suspend that passed it, never early, at any distance (Node fires a
// timer longer than 24.8 days at once), and not after it is cancelled.
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { systemClock, type Clock } from '../../src/time/clock.js'
import { DEADLINE_CHECK_MS, deadline } from '../../src/time/deadline.js'
import { ManualClock } from '../../src/time/manual-clock.js'

const HOUR = 3600_000
const DAY = 24 * HOUR
/** Node's largest timer: setTimeout with more fires after 1 ms (TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1

/** A clock that remembers the longest timer anyone asked it for. */
function recording(clock: Clock): Clock & { longest: number } {
  const spy = {
    longest: 0,
    now: () => clock.now(),
    after(ms: number, fn: () => void) {
      spy.longest = Math.max(spy.longest, ms)
      return clock.after(ms, fn)
    },
    every(ms: number, fn: () => void) {
      spy.longest = Math.max(spy.longest, ms)
      return clock.every(ms, fn)
    },
  }
  return spy
}

t.test('fires once, exactly at the time, not a millisecond early', (t) => {
  const clock = new ManualClock()
  const fired: number[] = []
  deadline(clock, clock.now() + 5 * HOUR + 250, () => fired.push(clock.now()))
  clock.jump(5 * HOUR + 249)
  t.same(fired, [], 'not 1 ms before')
  clock.jump(1)
  t.same(fired, [clock.now()], 'at the time itself (the last stretch has an exact timer)')
  clock.jump(DAY)
  t.equal(fired.length, 1, 'once only')
  t.equal(clock.pendingTimers, 0, 'and it leaves no timer behind')
  t.end()
})

t.test('a suspend that passes the deadline: fired within one check period of resuming', async (t) => {
  const clock = new ManualClock()
  let fired = 0
  let single = 0
  deadline(clock, clock.now() + 24 * HOUR, () => fired++)
  // what the code did before: one monotonic timer
  clock.after(24 * HOUR, () => single++)
  clock.jump(HOUR)
  clock.suspend(29 * HOUR)
  t.equal(fired, 0, 'nothing runs while the machine sleeps')
  await clock.advance(DEADLINE_CHECK_MS, 10)
  t.equal(fired, 1, `fired ${DEADLINE_CHECK_MS} ms after resuming, 6 h past its time`)
  t.equal(single, 0, 'a single monotonic timer would still wait 23 h: the defect this fixes')
})

t.test('a suspend that does not reach the deadline changes nothing', (t) => {
  const clock = new ManualClock()
  const at = clock.now() + 10 * HOUR
  let firedAt = 0
  deadline(clock, at, () => (firedAt = clock.now()))
  clock.suspend(4 * HOUR)
  clock.jump(6 * HOUR - 1)
  t.equal(firedAt, 0, 'still waiting 1 ms before')
  clock.jump(1)
  t.equal(firedAt, at, 'fired at its wall-clock time: the 4 h asleep counted')
  t.end()
})

t.test('already past: fires from a timer, never inside the call', (t) => {
  const clock = new ManualClock()
  let fired = 0
  const handle = deadline(clock, clock.now() - 1000, () => fired++)
  t.equal(fired, 0, 'not yet: the caller has not stored its handle')
  t.ok(handle, 'the caller gets its handle first')
  clock.jump(0)
  t.equal(fired, 1, 'then at once')
  t.end()
})

t.test('cancelled: never fires', (t) => {
  const clock = new ManualClock()
  let fired = 0
  deadline(clock, clock.now() + 500, () => fired++).cancel()
  deadline(clock, clock.now() + HOUR, () => fired++).cancel()
  clock.jump(2 * HOUR)
  t.equal(fired, 0)
  t.equal(clock.pendingTimers, 0, 'no timer left')
  t.end()
})

t.test('any distance: 30 days ahead asks for no timer longer than a check period, and fires at 30 days', (t) => {
  const base = new ManualClock()
  const spy = recording(base)
  let fired = 0
  deadline(spy, base.now() + 30 * DAY, () => fired++)
  t.ok(spy.longest <= DEADLINE_CHECK_MS, `longest timer asked for: ${spy.longest} ms (Node's limit ${MAX_TIMER_MS} ms)`)
  base.jump(30 * DAY - 1)
  t.equal(fired, 0, 'still waiting 1 ms before 30 days')
  base.jump(1)
  t.equal(fired, 1, 'fired at 30 days')
  t.ok(spy.longest <= DEADLINE_CHECK_MS, 'and never a long timer on the way')
  t.end()
})

t.test('30 days ahead on the real clock: does not fire at once (a single setTimeout would, after 1 ms)', async (t) => {
  let fired = 0
  const handle = deadline(systemClock, Date.now() + 30 * DAY, () => fired++)
  t.teardown(() => handle.cancel())
  // timers run in order of their due time: an overflowed 1 ms timer would run before this one
  await delay(50)
  t.equal(fired, 0, 'still waiting')
})
