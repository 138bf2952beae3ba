// Expiry and restarts with an injected clock: 24 hours pass in milliseconds. A session ends at
// expiresAt by itself; a service restarted inside the session resumes it (same keys, token,
// expiresAt, device identity); one restarted after it comes up disabled and says so; a corrupt state
// file never stops the service from starting; a state file of overlan 0.2 (a shared-key session)
// cannot resume under consent: recorded as lost, with the device's identity kept.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { decodeJoinTokenV2 } from '../../src/assist/join-token.js'
import { STATE_FILE, STATE_VERSION } from '../../src/assist/state-file.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { startTestAssist, type TestAssist } from '../fixtures/assist.js'

/** The fields of an overlan 0.2 session (format 2) besides its community and device identity. */
const V2_SESSION_FIELDS = { key: 'k'.repeat(43), since: Date.now(), expiresAt: Date.now() + 3_600_000, adminAccess: false, adminPassword: null, overlayIp: '10.99.0.1/24', deviceMac: '02:11:22:33:44:55', token: 'ovl1.eyJj' }

/** Moves the clock 1 ms at a time (letting file I/O finish) until `cond` holds; bounded. */
async function settle(clock: ManualClock, cond: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 500; i++) {
    if (await cond()) return true
    await clock.advance(1, 1)
  }
  return cond()
}

async function events(a: { api: (m: string, p: string) => Promise<{ json: unknown }> }): Promise<string[]> {
  return ((await a.api('GET', '/api/audit')).json as { event: string }[]).map((r) => r.event)
}

t.test('24 hours later the session has ended by itself, exactly at expiresAt', async (t) => {
  const clock = new ManualClock(Date.now())
  const a = await startTestAssist(t, { clock })
  const on = await a.api('POST', '/api/assistance', { enabled: true })
  t.equal(Date.parse(on.json.expiresAt as string), clock.now() + 86_400_000, 'default and maximum: 24 h')
  clock.jump(86_400_000 - 1000)
  t.equal((await a.api('GET', '/api/assistance')).json.enabled, true, 'still on one second before')
  t.equal((await a.api('GET', '/api/assistance')).json.remainingSeconds, 1)
  await clock.advance(1000, 1000)
  t.ok(await settle(clock, async () => (await a.api('GET', '/api/assistance')).json.enabled === false), 'off at expiresAt')
  t.match(await events(a), ['enable', 'expire'])
  t.ok(a.taps[0]!.closed, "the device's TAP device is gone")
  const state = JSON.parse(await readFile(join(a.stateDir, STATE_FILE), 'utf8')) as { session: unknown }
  t.equal(state.session, null, 'no key left on disk')
  const stateText = await readFile(join(a.stateDir, STATE_FILE), 'utf8')
  t.notMatch(stateText, decodeJoinTokenV2(on.json.token as string).enrollmentSecret.toString('base64'), 'no enrollment secret')
  t.notMatch(stateText, '"authority"', 'no authority key')
})

t.test('restart inside the session: same keys, token and expiresAt; the edge comes back', async (t) => {
  const clock = new ManualClock(Date.now())
  const a = await startTestAssist(t, { clock })
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 7200 })
  const deviceEdgeIdBefore = deviceEdgeId(a)
  t.match(deviceEdgeIdBefore, /^[0-9a-f]{14}$/)
  clock.jump(3600_000)
  const b = await a.restart()
  const status = await b.api('GET', '/api/assistance')
  t.match(status.json, { enabled: true, expiresAt: on.json.expiresAt, remainingSeconds: 3600 })
  t.equal(b.taps.length, 1, 'the device edge started again')
  t.same(b.taps[0]!.mac, a.taps[0]!.mac, 'with the same MAC: technicians\' ARP caches stay right')
  t.equal(deviceEdgeId(b), deviceEdgeIdBefore, 'and the same identity: the supernode and the technicians take it as the same member at once')
  t.equal((await b.api('POST', '/api/assistance', { enabled: true })).json.token, on.json.token, 'the same token')
  clock.jump(3600_000)
  t.ok(await settle(clock, async () => (await b.api('GET', '/api/assistance')).json.enabled === false), 'and it still ends on time')
})

/** The device edge's edge ID (the hash of its identity key), from the service's running edge. */
function deviceEdgeId(a: TestAssist): string | undefined {
  return (a.server.service as unknown as { edge: { status(): { edgeId: string } } | null }).edge?.status().edgeId
}

t.test('a state file of overlan 0.2 (format 2, a shared-key session): the session is recorded lost, with one line; the device keeps its identity', async (t) => {
  const clock = new ManualClock(Date.now())
  const a = await startTestAssist(t, { clock })
  await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 7200 })
  await a.server.close()
  // what overlan 0.2 wrote for a running session: its shared key, and the device identity in the session
  const path = join(a.stateDir, STATE_FILE)
  const v3 = JSON.parse(await readFile(path, 'utf8')) as { deviceIdentity: string; session: Record<string, unknown> }
  const v2 = { version: 2, session: { ...V2_SESSION_FIELDS, community: v3.session.community, deviceIdentity: v3.deviceIdentity } }
  await writeFile(path, JSON.stringify(v2))
  const b = await a.restart()
  t.match((await b.api('GET', '/api/assistance')).json, { enabled: false })
  t.equal(b.taps.length, 0, 'no device edge: that session cannot go on')
  const log = (await b.api('GET', '/api/audit')).json as unknown as { event: string; details: { reason?: string } }[]
  t.match(log.at(-1), { event: 'session-lost', details: { reason: /^state\.json is from overlan 0\.2 \(format 2\): its assistance session used one shared key for every technician and cannot go on with consent/ } })
  const now = JSON.parse(await readFile(path, 'utf8')) as { version: number; deviceIdentity: string; session: unknown }
  t.same([now.version, now.deviceIdentity, now.session], [STATE_VERSION, v3.deviceIdentity, null], 'written back in the current format, with the same device identity, no session')
  t.equal((await b.api('POST', '/api/assistance', { enabled: true })).status, 200, 'and can be switched on again')
})

t.test('restart after expiry: disabled at once, with an expired record', async (t) => {
  const clock = new ManualClock(Date.now())
  const a = await startTestAssist(t, { clock })
  await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 60 })
  await a.server.close()
  clock.jump(120_000) // the service was down when the session ended
  const b = await a.restart()
  t.equal((await b.api('GET', '/api/assistance')).json.enabled, false)
  t.equal(b.taps.length, 0, 'no edge started for an expired session')
  const log = (await b.api('GET', '/api/audit')).json as unknown as { event: string; details: { note?: string } }[]
  t.match(log.at(-1), { event: 'expire', details: { note: /while the service was stopped/ } })
})

t.test('a corrupt or unreadable state file: starts disabled, says why, never crashes', async (t) => {
  for (const content of ['{"version":3,"session":{"key":', 'null', '{"version":7}', '{"version":3,"deviceIdentity":"c2hvcnQ=","session":null}']) {
    const a = await startTestAssist(t)
    await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 60 })
    await a.server.close()
    await writeFile(join(a.stateDir, STATE_FILE), content)
    const b = await a.restart()
    t.equal((await b.api('GET', '/api/assistance')).json.enabled, false, `starts disabled with ${JSON.stringify(content)}`)
    const log = (await b.api('GET', '/api/audit')).json as unknown as { event: string; details: { reason: string } }[]
    t.match(log.at(-1), { event: 'state-unreadable', details: { reason: /state\.json/ } })
    t.equal((await b.api('POST', '/api/assistance', { enabled: true })).status, 200, 'and can be enabled again')
  }
})
