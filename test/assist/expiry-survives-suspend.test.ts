// A system suspend must not stretch an assistance session: the monotonic clock that timers run on
// stops while the machine sleeps, the wall clock does not. Suspend is simulated by moving the wall
// clock alone (ManualClock.suspend); the session must end within a check period of resuming.
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { systemClock } from '../../src/time/clock.js'
import { DEADLINE_CHECK_MS } from '../../src/time/deadline.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { startTestAssist } from '../fixtures/assist.js'

const HOUR = 3600_000

type Assist = Awaited<ReturnType<typeof startTestAssist>>
type Audit = { event: string; time: string; details: { expiresAt?: string } }[]

/** With the clock standing still, waits (real time, 5 s at most) for the session to be off: whatever ends it was started by the time the clock shows. */
async function offWithClockStill(a: Assist): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if ((await a.api('GET', '/api/assistance')).json.enabled === false) return true
    await delay(50)
  }
  return false
}

t.test('a session of 1 h, the machine asleep for 5 h: it ends at once on resume, audited as expire', async (t) => {
  const clock = new ManualClock(Date.now())
  // the device edge on the real clock: only the service's own expiry can end the session here
  const a = await startTestAssist(t, { clock, edgeClock: systemClock })
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 3600 })
  t.equal(on.status, 200)
  await clock.advance(10 * 60_000, 60_000)
  clock.suspend(5 * HOUR)
  const asleep = await a.api('GET', '/api/assistance')
  t.match(asleep.json, { enabled: true, remainingSeconds: 0 }, 'nothing has run yet: the state the issue describes (0 s left, still on)')

  const resumed = clock.now()
  await clock.advance(DEADLINE_CHECK_MS, 100)
  t.ok(await offWithClockStill(a), `off, with the clock ${DEADLINE_CHECK_MS} ms past resuming`)
  const log = (await a.api('GET', '/api/audit')).json as unknown as Audit
  t.match(log.at(-1), { event: 'expire', details: { expiresAt: on.json.expiresAt } }, 'the audit says expire')
  const afterMs = Date.parse(log.at(-1)!.time) - resumed
  t.comment(`session of 1 h, 5 h asleep: ended ${afterMs} ms after resuming (check period ${DEADLINE_CHECK_MS} ms); a single timer would have waited 50 min more`)
  t.ok(afterMs <= DEADLINE_CHECK_MS, `recorded within one check period of resuming (${afterMs} ms)`)
  t.ok(a.taps[0]!.closed, "the device's TAP device is gone")
})

t.test('a suspend shorter than what is left: the session still ends at its wall-clock time', async (t) => {
  const clock = new ManualClock(Date.now())
  const a = await startTestAssist(t, { clock, edgeClock: systemClock })
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 3 * 3600 })
  clock.suspend(2 * HOUR)
  t.equal((await a.api('GET', '/api/assistance')).json.remainingSeconds, 3600, 'the 2 h asleep count')
  clock.jump(HOUR - 1000)
  t.equal((await a.api('GET', '/api/assistance')).json.enabled, true, 'on 1 s before')
  await clock.advance(1000, 100)
  t.ok(await offWithClockStill(a), 'off, with the clock at expiresAt')
  const log = (await a.api('GET', '/api/audit')).json as unknown as Audit
  t.match(log.at(-1), { event: 'expire' })
  t.equal(Date.parse(log.at(-1)!.time), Date.parse(on.json.expiresAt as string), 'recorded at expiresAt, not 2 h later')
})
