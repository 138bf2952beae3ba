// Consent for real (root): the assistance service behind a NAT with its device edge on a TAP device,
// technicians behind NATs of their own running the real CLI with the join token in a file. With
// consent "ask" a technician waits; Allow → it pings the device; Deny → its command exits 3;
// Disconnect → its edge is told at once, its pings stop and it exits; a second technician, admitted
// meanwhile, is not affected. The figures are printed: the issue asks for a ping within 2 s of
// Allow and pings stopping within 1 s of Disconnect; the bounds asserted are looser (busy CI).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { natLab, waitFor, type NatLab, type Site } from '../fixtures/lab.js'
import { DEVICE_IP, assistApi, joinAsTechnician, startAssist } from '../fixtures/lab-assist.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const WAITING_LINE = /waiting for the device's owner to admit you/
/** Loose bounds for a loaded machine; the measured figures are in the output. */
const ADMITTED_PING_WITHIN_MS = 10_000
const DENIED_EXIT_WITHIN_MS = 5_000
const DISCONNECT_EXIT_WITHIN_MS = 3_000

type Api = ReturnType<typeof assistApi>
type Listed = { id: string; name: string; state: string; fingerprint: string; address: string; ip: string | null }

async function requestOf(api: Api, name: string): Promise<Listed> {
  const found = await waitFor(
    `${name}'s request is listed`,
    async () => ((await api('GET', '/api/technicians')) as unknown as Listed[]).find((x) => x.name === name && x.state === 'waiting'),
    10_000,
  )
  if (found.value === undefined) throw new Error(`${name}'s request never showed`)
  return found.value
}

async function admitAndPing(t: Test, lab: NatLab, api: Api, site: Site, name: string): Promise<string> {
  const request = await requestOf(api, name)
  const allowedAt = Date.now()
  const answer = await api('POST', `/api/technicians/${request.id}`, { admit: true })
  t.match(answer, { state: 'admitted', ip: /^10\.99\.0\.\d+$/ }, `${name} admitted`)
  const first = await lab.firstReply(site.ns, DEVICE_IP, ADMITTED_PING_WITHIN_MS)
  t.ok(first.ok, `${name} pings the device ${first.at - allowedAt} ms after Allow (the issue: within 2,000 ms)`)
  return request.id
}

t.test('ask: waits; Allow → ping; Deny → exit 3; Disconnect → pings stop, the other technician is unaffected', async (t) => {
  if (skipUnlessRoot(t, 'consent across NATs with real TAP devices and the technician CLI')) return
  const stateDir = await mkdtemp(join(tmpdir(), 'overlan-lab-consent-'))
  t.teardown(() => rm(stateDir, { recursive: true, force: true }))
  const lab = await natLab(t)
  const device = await lab.addNatSite('cone')
  const aliceSite = await lab.addNatSite('cone')
  const bobSite = await lab.addNatSite('cone')
  const mallorySite = await lab.addNatSite('cone')
  await lab.startSupernode()

  const service = startAssist(lab, device, stateDir)
  t.ok(await service.waitForLine(/console on http/, 20_000), 'the service is up')
  const api = assistApi(lab, device, stateDir)
  const on = await api('POST', '/api/assistance', { enabled: true, durationSeconds: 600, consent: 'ask' })
  t.match(on, { enabled: true, token: /^ovl2\./ })
  const token = on.token as string

  // alice asks and waits: nothing reaches the device until the owner decides
  const alice = joinAsTechnician(lab, aliceSite, token, 'alice', stateDir)
  t.ok(await alice.waitForLine(WAITING_LINE, 20_000), 'alice waits for the owner')
  const waiting = await requestOf(api, 'alice')
  t.match(waiting, { state: 'waiting', fingerprint: /^[a-z2-7]{32}$/, address: /^\d+\.\d+\.\d+\.\d+:\d+$/, ip: null })
  t.notOk(await lab.hasTap(aliceSite.ns), 'while waiting she has no TAP device')
  await admitAndPing(t, lab, api, aliceSite, 'alice')

  // mallory is denied: her command exits 3
  const mallory = joinAsTechnician(lab, mallorySite, token, 'mallory', stateDir)
  t.ok(await mallory.waitForLine(WAITING_LINE, 20_000), 'mallory waits')
  const mRequest = await requestOf(api, 'mallory')
  const deniedAt = Date.now()
  t.match(await api('POST', `/api/technicians/${mRequest.id}`, { admit: false }), { state: 'denied' })
  const mExit = await mallory.waitExit(DENIED_EXIT_WITHIN_MS + 5_000)
  t.match(mExit, { code: 3 }, `mallory's command exits 3, ${Date.now() - deniedAt} ms after Deny (the issue: within 5 s)`)
  t.ok(Date.now() - deniedAt <= DENIED_EXIT_WITHIN_MS + 1_000, 'within the bound')
  t.equal((await lab.ping(mallorySite.ns, DEVICE_IP, 2)).received, 0, 'mallory reaches nothing')

  // bob is admitted too; then alice is disconnected
  const bob = joinAsTechnician(lab, bobSite, token, 'bob', stateDir)
  t.ok(await bob.waitForLine(WAITING_LINE, 20_000), 'bob waits')
  await admitAndPing(t, lab, api, bobSite, 'bob')
  const aliceId = ((await api('GET', '/api/technicians')) as unknown as Listed[]).find((x) => x.name === 'alice' && x.state === 'admitted')!.id
  const cutAt = Date.now()
  t.match(await api('DELETE', `/api/technicians/${aliceId}`), { state: 'disconnected' })
  const aExit = await alice.waitExit(DISCONNECT_EXIT_WITHIN_MS + 5_000)
  const exitMs = Date.now() - cutAt
  t.match(aExit, { code: 8 }, `alice's edge exits (EXIT_SESSION_OVER) ${exitMs} ms after Disconnect`)
  t.ok(exitMs <= DISCONNECT_EXIT_WITHIN_MS, `within ${DISCONNECT_EXIT_WITHIN_MS} ms (the issue: pings stop within 1 s)`)
  t.ok(alice.lines.some((l) => l.includes("disconnected by the device's owner")), 'saying she was disconnected by the owner')
  t.notOk(await lab.hasTap(aliceSite.ns), 'her TAP device is gone')
  t.equal((await lab.ping(aliceSite.ns, DEVICE_IP, 2)).received, 0, 'alice reaches nothing any more')
  const bobAfter = await lab.ping(bobSite.ns, DEVICE_IP, 5)
  t.equal(bobAfter.received, 5, 'bob still reaches the device: 5 of 5 pings')

  const events = ((await api('GET', '/api/audit')) as unknown as { event: string; details: { name?: string; by?: string } }[]).filter((r) => r.event.startsWith('technician-'))
  for (const [event, name] of [
    ['technician-request', 'alice'],
    ['technician-admitted', 'alice'],
    ['technician-denied', 'mallory'],
    ['technician-disconnected', 'alice'],
  ] as const) {
    t.ok(events.some((r) => r.event === event && r.details.name === name), `audited: ${event} ${name}`)
  }
  await api('POST', '/api/assistance', { enabled: false })
  const bExit = await bob.waitExit(10_000)
  t.match(bExit, { code: 8 }, 'switching off ends bob too')
  t.ok(bob.lines.some((l) => l.includes('the assistance session was switched off')), 'saying the session was switched off')
})
