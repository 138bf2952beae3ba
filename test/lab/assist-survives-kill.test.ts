// kill -9 of the assistance service in the middle of a session loses nothing (root): after a
// restart the same token and expiry are back, the device edge comes back with the same MAC and
// address, and the technician, who never restarted, reaches the device again by itself.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { natLab } from '../fixtures/lab.js'
import { DEVICE_IP, assistApi, joinAsTechnician, startAssist } from '../fixtures/lab-assist.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

t.test('SIGKILL mid-session: the session, the device and the technician come back', async (t) => {
  if (skipUnlessRoot(t, 'the assistance service killed with SIGKILL and restarted, with real TAP devices')) return
  const stateDir = await mkdtemp(join(tmpdir(), 'overlan-lab-kill-'))
  t.teardown(() => rm(stateDir, { recursive: true, force: true }))
  const lab = await natLab(t)
  const device = await lab.addNatSite('cone')
  const technician = await lab.addNatSite('cone')
  await lab.startSupernode()

  const first = startAssist(lab, device, stateDir, 'assist#1')
  t.ok(await first.waitForLine(/console on http/, 10_000), 'the service is up')
  const api = assistApi(lab, device, stateDir)
  const on = await api('POST', '/api/assistance', { enabled: true, durationSeconds: 600 })
  const tapMac = async (): Promise<string> => (await lab.exec(device.ns, 'cat', ['/sys/class/net/ovl0/address'])).stdout.trim()
  const macBefore = await tapMac()

  joinAsTechnician(lab, technician, on.token as string, 'alice', stateDir)
  t.ok((await lab.firstReply(technician.ns, DEVICE_IP, 8_000)).ok, 'the technician reaches the device')

  await first.stop('SIGKILL')
  t.notOk(await lab.hasTap(device.ns), 'killed: the kernel removed its TAP device with the process')
  const second = startAssist(lab, device, stateDir, 'assist#2')
  t.ok(await second.waitForLine(/restoring the assistance session/, 10_000), 'the restarted service restores the session')
  t.ok(await second.waitForLine(/console on http/, 10_000))
  const status = await api('GET', '/api/assistance')
  t.match(status, { enabled: true, expiresAt: on.expiresAt, overlayIp: `${DEVICE_IP}/24` })
  t.equal((await api('POST', '/api/assistance', { enabled: true })).token, on.token, 'the same token')
  t.equal(await tapMac(), macBefore, 'the device comes back with the same MAC')
  const back = await lab.firstReply(technician.ns, DEVICE_IP, 30_000)
  t.ok(back.ok, `the technician reaches the device again by itself (${back.ms} ms after the restart)`)
})
