// The edge's own expiry (--expires-at, and the device edge of an assistance session) is on the
// wall clock: a suspend that passes it stops the edge at once on resume, and one months ahead
// does not fire at once (Node's timers overflow past 24.8 days).
import { once } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { DEADLINE_CHECK_MS } from '../../src/time/deadline.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { startEdge, startSupernode } from '../fixtures/overlay.js'

const HOUR = 3600_000
const DAY = 24 * HOUR

t.test('expires in 2 h, the machine asleep for 3 h: the edge stops with "expired" on resume', async (t) => {
  const clock = new ManualClock(Date.now())
  const sn = await startSupernode(t, {}, clock)
  const e = await startEdge(t, [sn], { clock, expiresAt: clock.now() + 2 * HOUR })
  const stopped = once(e.edge, 'stopped') as Promise<[string]>
  let why: string | null = null
  void stopped.then(([w]) => (why = w))
  await clock.advance(5_000, 50)
  clock.suspend(3 * HOUR)
  t.equal(why, null, 'nothing runs while the machine sleeps')
  const resumed = clock.now()
  for (let i = 0; i < 100 && why === null; i++) await clock.advance(DEADLINE_CHECK_MS / 10, DEADLINE_CHECK_MS / 10)
  const afterMs = clock.now() - resumed
  t.comment(`edge expiring in 2 h, 3 h asleep: stopped ${afterMs} ms after resuming`)
  t.equal(why, 'expired')
  t.ok(afterMs <= DEADLINE_CHECK_MS, `within one check period of resuming (${afterMs} ms)`)
  t.ok(e.tap.closed, 'its TAP device is gone')
})

t.test('expires in 30 days, on the real clock: still running (a single setTimeout fires after 1 ms)', async (t) => {
  const sn = await startSupernode(t)
  const expiresAt = Date.now() + 30 * DAY
  const e = await startEdge(t, [sn], { expiresAt })
  let stopped = false
  e.edge.on('stopped', () => (stopped = true))
  // timers run in the order they are due: an overflowed 1 ms timer would run before this one
  await delay(50)
  t.equal(stopped, false, 'not stopped')
  t.equal(e.tap.closed, false, 'its TAP device is still there')
  t.equal(e.edge.status().expiresAt, new Date(expiresAt).toISOString(), '/status shows the expiry, 30 days ahead')
})
