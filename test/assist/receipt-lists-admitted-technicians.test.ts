// The receipt lists the technicians the session admitted (its registry), not the peers the device's
// edge happens to know at the end: one admitted who never connected is listed as never heard, one
// disconnected by the owner is listed until its disconnect ("disconnected"), and the bytes a
// technician sent before a restart of the service still count in the receipt made after it (the
// state file keeps them). Real edges on MemoryTaps with a supernode of their own, so that the
// technicians stay connected while the service restarts.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { AuditLog } from '../../src/assist/audit-log.js'
import { RECEIPTS_DIR, receiptFileName } from '../../src/assist/receipt-store.js'
import { verifyReceipt, type ReceiptTechnician } from '../../src/assist/receipt.js'
import { AssistanceService, type DeviceEdgeConfig } from '../../src/assist/service.js'
import { loadState } from '../../src/assist/state-file.js'
import { Supernode } from '../../src/supernode/supernode.js'
import type { MemoryTap } from '../../src/tap/memory-tap.js'
import { memoryDeviceEdge, poll } from '../fixtures/assist.js'
import { technician, type TestTechnician } from '../fixtures/enrollment.js'
import { ipv4Frame } from '../fixtures/frames.js'

const BEFORE_RESTART = 20
const AFTER_RESTART = 5

async function startService(dir: string, supernodePort: number, taps: MemoryTap[], configs: DeviceEdgeConfig[]): Promise<AssistanceService> {
  const audit = await AuditLog.open(dir)
  return AssistanceService.start({ stateDir: dir, supernodes: [{ host: '127.0.0.1', port: supernodePort }], deviceIp: { address: '10.99.0.1', prefix: 24 } }, { audit, startEdge: memoryDeviceEdge(taps, undefined, null, configs) })
}

/** Asks with `name`, waits until the service lists the request, and admits it by the API. */
async function admit(t: Test, service: AssistanceService, config: DeviceEdgeConfig, name: string): Promise<TestTechnician & { id: string; certificate: string }> {
  const tech = technician(t, config, name)
  tech.poll()
  const listed = await poll(() => Promise.resolve(service.technicians().find((x) => x.name === name)), (x) => x?.state === 'waiting')
  if (listed === undefined) throw new Error(`${name}'s request was not listed`)
  const admitted = await service.decide(listed.id, true, 'api')
  return { ...tech, id: listed.id, certificate: admitted.certificate! }
}

/** Sends `count` frames from a technician's TAP to the device's until the device's TAP has `written` frames in all. */
async function sendFrames(tap: MemoryTap, device: MemoryTap, source: string, count: number): Promise<number> {
  const frame = ipv4Frame(device.mac, tap.mac, source, '10.99.0.1')
  const target = device.written.length + count
  // the first frames may wait for the pair's handshake: resend until they are through
  for (let i = 0; i < 200 && device.written.length < target; i++) {
    tap.inject(frame)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  await device.waitForWritten(target)
  return frame.length
}

t.test("the receipt lists every admitted technician from the registry, with bytes counted across a restart", async (t) => {
  const supernode = await Supernode.start({ port: 0, bindAddress: '127.0.0.1', mgmt: null }, {})
  t.teardown(() => supernode.stop())
  const dir = await mkdtemp(join(tmpdir(), 'overlan-receipt-registry-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const taps: MemoryTap[] = []
  const configs: DeviceEdgeConfig[] = []
  let service = await startService(dir, supernode.port, taps, configs)
  t.teardown(() => service.shutdown())
  await service.enable({ durationSeconds: 600, adminAccess: false, consent: 'ask', maxTechnicians: 3 })
  const community = (await service.auditRecords()).find((r) => r.event === 'enable')!.details.community as string

  const alice = await admit(t, service, configs[0]!, 'alice')
  const bob = await admit(t, service, configs[0]!, 'bob')
  const carol = await admit(t, service, configs[0]!, 'carol')
  const joinEdge = async (tech: TestTechnician) => {
    const answer = await poll(() => Promise.resolve(tech.poll()), (x) => x.state !== 'waiting')
    if (answer.state !== 'admitted') throw new Error(`${tech.name} not admitted: ${answer.state}`)
    const joined = await tech.join(answer.certificate)
    await poll(() => Promise.resolve(joined.edge.overlay), (x) => x !== null)
    return joined
  }
  // bob was admitted but never joins: the device's edge never has him as a peer
  const aliceEdge = await joinEdge(alice)
  const carolEdge = await joinEdge(carol)
  const frameBytes = await sendFrames(aliceEdge.tap, taps[0]!, aliceEdge.edge.overlay!.address, BEFORE_RESTART)
  await sendFrames(carolEdge.tap, taps[0]!, carolEdge.edge.overlay!.address, 3)
  const counted = await poll(() => Promise.resolve(service.technicians()), (l) => l.find((x) => x.id === alice.id)!.rxBytes >= BEFORE_RESTART * frameBytes && l.find((x) => x.id === carol.id)!.rxBytes >= 3 * frameBytes)
  t.ok(counted.find((x) => x.id === alice.id)!.rxBytes >= BEFORE_RESTART * frameBytes, `alice's ${BEFORE_RESTART} frames counted before the restart`)
  const cut = await service.disconnect(carol.id, 'api')

  await service.shutdown()
  const saved = await loadState(dir)
  const savedAlice = saved.ok ? saved.state.session?.technicians.find((r) => r.id === alice.id) : undefined
  t.ok((savedAlice?.traffic?.rxBytes ?? 0) >= BEFORE_RESTART * frameBytes, `the state file holds alice's bytes: ${savedAlice?.traffic?.rxBytes ?? 'none'}`)
  service = await startService(dir, supernode.port, taps, configs)
  t.equal(taps.length, 2, 'the restarted service runs a new device edge')
  // the same device key and MAC: alice's edge reaches the new device edge
  await sendFrames(aliceEdge.tap, taps[1]!, aliceEdge.edge.overlay!.address, AFTER_RESTART)
  await poll(() => Promise.resolve(service.technicians().find((x) => x.id === alice.id)!.rxBytes), (n) => n >= (BEFORE_RESTART + AFTER_RESTART) * frameBytes)
  await service.disable()

  const text = await readFile(join(dir, RECEIPTS_DIR, receiptFileName(community)), 'utf8')
  const check = verifyReceipt(text)
  if (!check.ok) throw new Error(`the receipt does not verify: ${check.reason}`)
  const listed = check.receipt.technicians
  t.same(listed.map((x) => x.name).sort(), ['alice', 'bob', 'carol'], 'every admitted technician, bob (never connected) included')
  const byName = (name: string): ReceiptTechnician => listed.find((x) => x.name === name)!
  t.match(byName('alice'), { fingerprint: alice.certificate, left: 'off', until: check.receipt.end })
  t.ok(byName('alice').bytesFromTechnician >= (BEFORE_RESTART + AFTER_RESTART) * frameBytes, `alice's bytes before and after the restart: ${byName('alice').bytesFromTechnician} ≥ ${BEFORE_RESTART + AFTER_RESTART} frames of ${frameBytes}`)
  t.ok(byName('alice').firstSeen !== null && byName('alice').firstSeen! <= byName('alice').lastSeen!, 'alice was heard')
  t.match(byName('bob'), { fingerprint: bob.certificate, left: 'off', firstSeen: null, lastSeen: null, bytesFromTechnician: 0, bytesToTechnician: 0 }, 'bob: admitted, never heard')
  t.match(byName('carol'), { fingerprint: carol.certificate, left: 'disconnected', until: Date.parse(cut.since) }, 'carol: until the owner disconnected her')
  t.ok(byName('carol').bytesFromTechnician >= 3 * frameBytes, "carol's bytes before her disconnect")
  for (const x of listed) t.ok(x.admitted! <= x.until!, `${x.name}: admitted before until`)
  t.ok(text.includes('"receipt": "overlan-session-receipt-2"'), 'format 2')
})
