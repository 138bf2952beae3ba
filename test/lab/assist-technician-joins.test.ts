// The remote-assistance flow for real (root): the assistance service runs behind a NAT with its
// device edge on a TAP device; a technician behind another NAT joins with nothing but the token the
// API gave and pings the device; when the short session ends, the technician is cut off: its edge
// exits, the device's TAP device is gone, pings fail.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { natLab, waitFor } from '../fixtures/lab.js'
import { DEVICE_IP, assistApi, joinAsTechnician, startAssist } from '../fixtures/lab-assist.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const SESSION_SECONDS = 10

t.test('a technician joins with the token, reaches the device, and is cut off at expiry', async (t) => {
  if (skipUnlessRoot(t, 'remote assistance across two NATs with real TAP devices')) return
  const stateDir = await mkdtemp(join(tmpdir(), 'overlan-lab-assist-'))
  t.teardown(() => rm(stateDir, { recursive: true, force: true }))
  const lab = await natLab(t)
  const device = await lab.addNatSite('cone')
  const technician = await lab.addNatSite('cone')
  await lab.startSupernode()

  const service = startAssist(lab, device, stateDir)
  t.ok(await service.waitForLine(/console on http/, 10_000), 'the service is up')
  const api = assistApi(lab, device, stateDir)

  const on = await api('POST', '/api/assistance', { enabled: true, durationSeconds: SESSION_SECONDS })
  t.match(on, { enabled: true, token: /^ovl2\./, overlayIp: `${DEVICE_IP}/24` })
  const expiresAt = Date.parse(on.expiresAt as string)

  // the technician's whole command line: the token and a name
  // consent "auto" (the API's default): admitted as it asks
  const tech = joinAsTechnician(lab, technician, on.token as string, 'alice', stateDir)
  const first = await lab.firstReply(technician.ns, DEVICE_IP, 8_000)
  t.ok(first.ok, `the technician pings the device (${first.ms} ms after joining)`)
  const listed = await waitFor(
    'the technician is listed',
    async () => {
      const techs = (await api('GET', '/api/assistance')).technicians as { name?: string; ip: string }[]
      return techs.length === 1 ? techs : undefined
    },
    5_000,
  )
  t.match(listed.value, [{ name: 'alice', ip: /^10\.99\.0\.\d+$/ }], 'the console lists the technician by name')

  // the session ends by itself
  const exit = await tech.waitExit(expiresAt - Date.now() + 5_000)
  t.match(exit, { code: 8 }, "the technician's edge exits by itself at the session's end (EXIT_SESSION_OVER)")
  t.notOk(await lab.hasTap(device.ns), "the device's TAP device is gone")
  const after = await lab.ping(technician.ns, DEVICE_IP, 2)
  t.equal(after.received, 0, 'the device is unreachable now')
  const status = await api('GET', '/api/assistance')
  t.match(status, { enabled: false, technicians: [] })
  const events = ((await api('GET', '/api/audit')) as unknown as { event: string }[]).map((r) => r.event)
  t.match(events.slice(0, 3), ['enable', 'technician-request', 'technician-admitted'], 'enable, the request and the admission are audited')
  t.ok(events.includes('technician-joined'), 'and the join')
  t.ok(events.includes('expire'), `and the expiry (${events.join(', ')})`)
})
