// The idle countdown across a restart of the service (issue 13, state format 4): the last technician
// frame is saved with the session, so a restarted service ends an idle session when the stopped one
// would have, not idleMinutes after the restart; a session whose idle deadline passed while the
// service was stopped ends at the start, audited "idle". While a technician sends, the saved time is
// at most TRAFFIC_SAVE_MS old (what a crash can lose). Injected clock for the service; the edges run
// on real time (their certificates must not be minutes off).
import t from 'tap'
import { TRAFFIC_SAVE_MS } from '../../src/assist/service.js'
import { loadState } from '../../src/assist/state-file.js'
import { systemClock } from '../../src/time/clock.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { poll, startTestAssist, type TestAssist } from '../fixtures/assist.js'
import { idleSessionWithTechnician, idleStatus as status, passChecks as pass } from '../fixtures/idle.js'

type Audit = { event: string; details: Record<string, unknown> }[]

/** The saved session's lastTraffic, as a restarted service would read it. */
async function savedLastTraffic(a: TestAssist): Promise<number | null | undefined> {
  const loaded = await loadState(a.stateDir)
  return loaded.ok ? loaded.state.session?.lastTraffic : undefined
}

t.test('no traffic: a restart one minute into a 2-minute idle timeout leaves one minute, not two', async (t) => {
  const clock = new ManualClock(Date.now())
  const a = await startTestAssist(t, { clock, edgeClock: systemClock })
  t.equal((await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 3600, idleMinutes: 2 })).status, 200)
  const since = clock.now()
  t.equal(await savedLastTraffic(a), since, 'the switch-on starts the countdown, saved with the session')
  await pass(clock, 60_000)
  t.match(await status(a), { enabled: true, idleRemainingSeconds: 60 })

  const b = await a.restart()
  t.match(await status(b), { enabled: true, idleRemainingSeconds: 60 }, 'after the restart: still 60 s left (format 3 counted 120 again)')
  await pass(clock, 59_000)
  t.match(await status(b), { enabled: true, idleRemainingSeconds: 1 })
  await pass(clock, 2_000)
  const off = await poll(() => status(b), (s) => s.enabled === false)
  t.equal(off.enabled, false, 'off 2 min after the switch-on, the restart notwithstanding')
  const log = (await b.api('GET', '/api/audit')).json as unknown as Audit
  t.match(log.at(-1), { event: 'idle', details: { idleMinutes: 2, lastTraffic: new Date(since).toISOString() } })
})

t.test("a technician's last frame is saved within TRAFFIC_SAVE_MS, and a restart counts from it", async (t) => {
  const { clock, a, device, frame } = await idleSessionWithTechnician(t, 2)
  await pass(clock, 30_000)
  await frame()
  t.ok(device.written.length > 0, 'a frame reached the device')
  await pass(clock, 1_000)
  const heard = clock.now()
  t.match(await status(a), { idleRemainingSeconds: 120 }, 'the frame restarted the countdown')
  await pass(clock, TRAFFIC_SAVE_MS)
  t.equal(await savedLastTraffic(a), heard, `saved within ${TRAFFIC_SAVE_MS} ms: what a crash keeps`)

  await pass(clock, 60_000 - TRAFFIC_SAVE_MS)
  t.match(await status(a), { idleRemainingSeconds: 60 })
  const b = await a.restart()
  t.match(await status(b), { enabled: true, idleRemainingSeconds: 60 }, 'after the restart: 60 s left, counted from its frame')
  await pass(clock, 61_000)
  t.equal((await poll(() => status(b), (s) => s.enabled === false)).enabled, false, 'off 2 min after its last frame')
  const log = (await b.api('GET', '/api/audit')).json as unknown as Audit
  t.match(log.at(-1), { event: 'idle', details: { lastTraffic: new Date(heard).toISOString() } })
})

t.test('the idle deadline passed while the service was stopped: the session ends at the start, audited "idle"', async (t) => {
  const clock = new ManualClock(Date.now())
  const a = await startTestAssist(t, { clock, edgeClock: systemClock })
  await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 3600, idleMinutes: 1 })
  const since = clock.now()
  await pass(clock, 10_000)
  // the minute runs out while nothing runs (as if the service were stopped): the restart finds it over
  clock.suspend(55_000)
  const b = await a.restart()
  t.equal((await status(b)).enabled, false, 'off as it starts')
  const log = (await b.api('GET', '/api/audit')).json as unknown as Audit
  t.match(log.at(-1), { event: 'idle', details: { idleMinutes: 1, lastTraffic: new Date(since).toISOString(), note: 'idle while the service was stopped' } })
  t.equal(b.taps.length, 0, 'no device edge was started for it')
})
