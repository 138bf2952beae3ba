// The whole assistance flow in one process: enable, a technician edge joins with nothing but the
// token, reaches the device, shows up (with its name) in the status and the audit; disabling cuts
// it off and makes the token useless.
import t from 'tap'
import { decodeJoinToken } from '../../src/assist/join-token.js'
import { Edge } from '../../src/edge/edge.js'
import { MemoryTap } from '../../src/tap/memory-tap.js'
import { poll, startTestAssist } from '../fixtures/assist.js'
import { ipv4Frame, mac } from '../fixtures/frames.js'
import { until } from '../fixtures/overlay.js'

t.test('join with the token, be seen, be cut off', async (t) => {
  const a = await startTestAssist(t)
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600 })
  const token = decodeJoinToken(on.json.token as string)
  const tap = new MemoryTap('tech0', mac(0x7e))
  const tech = await Edge.start({ community: token.community, key: token.key, supernodes: token.supernodes, overlay: null, name: 'alice', bind: { address: '127.0.0.1', port: 0 }, mgmt: null }, { tap })
  t.teardown(() => tech.stop())
  await until('the technician has an address', () => tech.overlay !== null)
  t.match(tech.overlay, { address: /^10\.99\.0\.\d+$/, prefix: 24 }, `auto-assigned ${tech.overlay?.address} next to the device`)

  const device = a.taps[0]!
  tap.inject(ipv4Frame(device.mac, tap.mac, tech.overlay!.address, '10.99.0.1'))
  await device.waitForWritten(1)
  t.pass('a frame from the technician reached the device')

  type Listed = { technicians: { id: string; name?: string; ip: string; path: string }[] }
  const listed = await poll(async () => (await a.api('GET', '/api/assistance')).json as unknown as Listed, (l) => l.technicians.length === 1)
  t.match(listed.technicians, [{ id: /^[0-9a-f]{14}$/, name: 'alice', ip: tech.overlay!.address, path: /direct|relay|punching/ }])
  type Audit = { event: string; details: { id: string; name?: string } }[]
  const joined = (await poll(async () => (await a.api('GET', '/api/audit')).json as unknown as Audit, (l) => l.some((r) => r.event === 'technician-joined'))).filter((r) => r.event === 'technician-joined')
  t.match(joined, [{ details: { id: listed.technicians[0]!.id, name: 'alice' } }], 'the join is in the audit log, with the edge ID and name')

  await a.api('POST', '/api/assistance', { enabled: false })
  t.ok(device.closed, "the device's edge is gone")
  const before = device.written.length
  tap.inject(ipv4Frame(device.mac, tap.mac, tech.overlay!.address, '10.99.0.1'))
  const log = (await a.api('GET', '/api/audit')).json as unknown as { event: string }[]
  t.same(log.map((r) => r.event).slice(-2), ['technician-left', 'disable'])
  t.equal(device.written.length, before, 'nothing reaches the device any more')
  t.equal((await a.api('GET', '/api/assistance')).json.enabled, false)
})
