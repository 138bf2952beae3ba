// The idle timeout (issue 13) on an injected clock for the service (the edges run in real time):
// counted from the switch-on until a technician first sends a frame, then from its last frame; a
// technician that is connected but sends nothing (its edge's keepalives and probes are not frames)
// does not hold the session open; the end is audited as "idle" and revokes the admitted
// technicians; GET /api/assistance shows the countdown.
import t from 'tap'
import { REVOKED_SESSION_ENDED } from '../../src/edge/registration.js'
import { systemClock } from '../../src/time/clock.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { poll, startTestAssist } from '../fixtures/assist.js'
import { idleSessionWithTechnician, idleStatus as status, passChecks as pass } from '../fixtures/idle.js'

type Audit = { event: string; details: Record<string, unknown> }[]

t.test('no traffic at all: the session ends idleMinutes after the switch-on, audited "idle"', async (t) => {
  const clock = new ManualClock(Date.now())
  const a = await startTestAssist(t, { clock, edgeClock: systemClock })
  t.equal((await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 3600, idleMinutes: 2 })).status, 200)
  t.match(await status(a), { enabled: true, idleMinutes: 2, idleRemainingSeconds: 120 })
  await pass(clock, 60_000)
  t.match(await status(a), { enabled: true, idleRemainingSeconds: 60 }, 'a minute later: a minute left')
  await pass(clock, 59_000)
  t.match(await status(a), { enabled: true, idleRemainingSeconds: 1 })
  await pass(clock, 2_000)
  const off = await poll(() => status(a), (s) => s.enabled === false)
  t.equal(off.enabled, false, 'switched off after 2 min without traffic')
  const log = (await a.api('GET', '/api/audit')).json as unknown as Audit
  t.match(log.at(-1), { event: 'idle', details: { idleMinutes: 2 } })

  // a clock of its own: the device edge runs on real time, which must not be minutes behind its certificate
  const fresh = new ManualClock(Date.now())
  const without = await startTestAssist(t, { clock: fresh, edgeClock: systemClock })
  t.equal((await without.api('POST', '/api/assistance', { enabled: true, durationSeconds: 3600 })).status, 200)
  t.match(await status(without), { idleMinutes: 0, idleRemainingSeconds: null }, 'idleMinutes 0: no countdown')
  await pass(fresh, 5 * 60_000)
  t.equal((await status(without)).enabled, true, 'and no idle end')
})

t.test("a technician's frames hold the session open; connected but silent, it does not", async (t) => {
  const { clock, a, edge, device, frame } = await idleSessionWithTechnician(t, 1)
  await pass(clock, 50_000)
  t.match(await status(a), { enabled: true, idleRemainingSeconds: 10 }, '50 s without a frame: 10 s left')

  // a frame from the technician: the countdown starts again at the next check
  await frame()
  t.ok(device.written.length > 0, 'a frame reached the device')
  await pass(clock, 1_000)
  t.match(await status(a), { enabled: true, idleRemainingSeconds: 60 }, 'its frame reset the countdown to a full minute')
  const frames = device.written.length

  // connected, registered, its edge alive: yet no frame for a minute
  await pass(clock, 59_000)
  t.equal((await status(a)).enabled, true, 'still on 59 s after its last frame')
  t.equal(edge.status().supernodes[0]!.registered, true, 'the technician is still connected')
  const stopped = new Promise<string>((resolve) => edge.once('stopped', resolve))
  await pass(clock, 2_000)
  t.equal((await poll(() => status(a), (s) => s.enabled === false)).enabled, false, 'off a minute after its last frame')
  t.equal(device.written.length, frames, 'no frame came in meanwhile (so nothing but keepalives and probes was heard)')
  t.equal(await stopped, REVOKED_SESSION_ENDED, "the idle end revoked its certificate: its edge stops, 'session-ended'")
  const log = (await a.api('GET', '/api/audit')).json as unknown as Audit
  t.match(log.filter((r) => r.event === 'technician-disconnected' || r.event === 'idle').map((r) => [r.event, r.details.reason ?? r.details.idleMinutes]), [
    ['technician-disconnected', 'session-ended'],
    ['idle', 1],
  ])
})
