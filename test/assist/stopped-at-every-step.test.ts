// The steps of lab/assist-crash-points.test.ts without root or a second process: at the chosen step
// the step observer never returns, so the change stops there as if the process had been killed;
// that instance is abandoned (its edges stopped, nothing of it runs again) and a new one starts on
// the same files, with MemoryTaps. After it, files, service and audit log agree on one of the two
// consistent states, and on the one the step implies. The lab test does the same with SIGKILL.
// A technician's request, admission and disconnect stopped at each of their steps: after the
// restart the technicians listed are the state file's, the certificate in force is the saved one
// (or none), every saved revocation is handed to the new device edge, each state audited once
// (lab/assist-crash-technicians.test.ts: the same with SIGKILL and the real technician CLI).
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { AUDIT_FILE, AuditLog, verifyAuditLog } from '../../src/assist/audit-log.js'
import { AssistanceService, type DeviceEdge, type DeviceEdgeConfig } from '../../src/assist/service.js'
import { loadState, type SessionState } from '../../src/assist/state-file.js'
import { ADMIT_STEPS, ALL_STEPS, DISABLE_STEPS, DISCONNECT_STEPS, ENABLE_STEPS, EXPIRE_STEPS, IDLE_STEPS, REQUEST_STEPS, ROLLBACK_STEPS } from '../../src/assist/steps.js'
import { generateIdentity, keyFingerprint, type Identity } from '../../src/crypto/identity.js'
import { Supernode } from '../../src/supernode/supernode.js'
import type { MemoryTap } from '../../src/tap/memory-tap.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { SESSION_EVENTS, expectedOutcome as expected, memoryDeviceEdge, type Outcome } from '../fixtures/assist.js'

const SESSION_SECONDS = 600

interface Instance {
  /** null when the instance stopped at its step while starting */
  service: AssistanceService | null
  taps: MemoryTap[]
  /** each device edge's config: its enrollment decider is the service's */
  configs: DeviceEdgeConfig[]
  /** resolves when the instance has reached its step and stopped there */
  stopped: Promise<void>
  /** what a kill does to the rest: its edges go, its timers never fire (its clock stands still) */
  abandon(): Promise<void>
}

async function startInstance(stateDir: string, supernodePort: number, clock: ManualClock, stopAt?: string): Promise<Instance> {
  const taps: MemoryTap[] = []
  const configs: DeviceEdgeConfig[] = []
  const edges: DeviceEdge[] = []
  let reached = (): void => {}
  const stopped = new Promise<void>((resolve) => (reached = resolve))
  const onStep = (step: string): Promise<void> | void => {
    if (step !== stopAt) return
    reached()
    return new Promise<void>(() => {})
  }
  const memoryEdge = memoryDeviceEdge(taps, clock, null, configs)
  const starting = AuditLog.open(stateDir, { onStep }).then((audit) =>
    AssistanceService.start(
      { stateDir, supernodes: [{ host: '127.0.0.1', port: supernodePort }], deviceIp: { address: '10.99.0.1', prefix: 24 } },
      { audit, clock, onStep, startEdge: async (config) => edges[edges.push(await memoryEdge(config)) - 1]! },
    ),
  )
  const service = await Promise.race([starting, stopped.then(() => null)])
  return { service, taps, configs, stopped, abandon: async () => void (await Promise.all(edges.map((e) => e.stop('abandoned')))) }
}

async function session(stateDir: string): Promise<SessionState | null> {
  const loaded = await loadState(stateDir)
  if (!loaded.ok) throw new Error(loaded.reason)
  return loaded.state.session
}

/** Files, service and audit log agree: returns on or off. */
async function checkConsistent(t: Test, stateDir: string, next: Instance): Promise<Outcome> {
  const service = next.service!
  t.match(await verifyAuditLog(join(stateDir, AUDIT_FILE)), { ok: true }, 'the audit chain verifies')
  const onDisk = await session(stateDir)
  const last = (await service.auditRecords()).findLast((r) => SESSION_EVENTS.has(r.event))
  if (onDisk === null) {
    t.equal(service.status().enabled, false, 'off: the service says off')
    t.ok(next.taps.every((tap) => tap.closed), 'off: no device edge')
    t.not(last?.event, 'enable', `off: the log's last word is not an enable (${last?.event ?? 'none'})`)
    return 'off'
  }
  t.match(service.status(), { enabled: true, expiresAt: new Date(onDisk.expiresAt).toISOString() }, 'on: the service shows the session on disk')
  t.match(last, { event: 'enable', details: { community: onDisk.community } }, "on: the log's last word is its enable")
  t.equal(next.taps.filter((tap) => !tap.closed).length, 1, 'on: one device edge')
  t.equal(next.taps.at(-1)?.mac.toString('hex'), onDisk.deviceMac.replaceAll(':', ''), "on: with the session's MAC")
  t.equal((await service.enable({ durationSeconds: SESSION_SECONDS, adminAccess: false })).token, onDisk.token, "on: enabling again hands out the session's token")
  return 'on'
}

type Run = (t: Test, dir: string, port: number) => Promise<void>

/** Runs `first` on an instance that stops at `step`, then checks what a fresh instance makes of it. */
function stoppedAt(step: string, first: (i: Instance, clock: ManualClock) => Promise<void> | void, outcome: Outcome, extra?: (t: Test, dir: string, s: AssistanceService) => Promise<void>): Run {
  return async (t, dir, port) => {
    const clock = new ManualClock(Date.now())
    const one = await startInstance(dir, port, clock, step)
    await first(one, clock)
    await one.stopped
    await one.abandon()
    const two = await startInstance(dir, port, new ManualClock(clock.now()))
    t.teardown(() => two.service?.shutdown())
    t.equal(await checkConsistent(t, dir, two), outcome, `${outcome}, as the step implies`)
    await extra?.(t, dir, two.service!)
  }
}

const enable = (i: Instance, seconds = SESSION_SECONDS): void => void i.service!.enable({ durationSeconds: seconds, adminAccess: true }).catch(() => {})

/** One technician's request to the instance's device edge, as its responder would make it. */
function ask(i: Instance, who: Identity): ReturnType<DeviceEdgeConfig['enrollment']['decider']['request']> {
  return i.configs.at(-1)!.enrollment.decider.request({ publicKey: who.publicKey, fingerprint: keyFingerprint(who.publicKey), name: 'tech', address: '198.51.100.9:4000' })
}

/** Lets the instance's queue run (file I/O) with the clock standing still: bounded. */
async function settle(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5))
}

/**
 * After a stop during a technician change: the restarted service lists what the state file holds,
 * the certificates in force are the admitted ones (the decider answers the same certificate; no
 * other technician holds one), every revocation saved is handed to the new device edge, and each
 * technician's state is audited exactly once.
 */
async function checkTechnicians(t: Test, dir: string, next: Instance, who: Identity, expected: string[]): Promise<void> {
  const onDisk = (await session(dir))!.technicians
  const service = next.service!
  t.same(service.technicians().map((x) => [x.id, x.state]), onDisk.map((x) => [x.id, x.state]), 'the list is the state file’s')
  t.same(onDisk.map((x) => x.state), expected, `technician states: ${expected.join(', ')}`)
  const answer = ask(next, who)
  const admitted = onDisk.find((x) => x.state === 'admitted')
  if (admitted !== undefined) t.same(answer, { state: 'admitted', certificate: Buffer.from(admitted.certificate!, 'base64') }, 'the certificate in force is the saved one')
  else t.not(answer.state, 'admitted', 'no certificate in force')
  const revoked = onDisk.filter((x) => x.revocation !== undefined).map((x) => Buffer.from(x.revocation!, 'base64'))
  t.same(next.configs.at(-1)!.revocations, revoked, 'the new device edge holds every saved revocation')
  const records = (await service.auditRecords()).filter((r) => r.event.startsWith('technician-') && r.event !== 'technician-joined' && r.event !== 'technician-left')
  for (const x of onDisk) {
    const mine = records.filter((r) => r.details.id === x.id).map((r) => r.event)
    t.equal(new Set(mine).size, mine.length, `each of ${x.id}'s states audited once (${mine.join(', ')})`)
    t.equal(mine.at(-1), `technician-${x.state === 'waiting' ? 'request' : x.state}`, "the log's last word on it is its state")
  }
}

/** A technician change stopped at `step`, then a fresh instance: on, and the technicians agree. */
function technicianStoppedAt(step: string, first: (i: Instance, who: Identity) => Promise<void>, expected: string[]): Run {
  return async (t, dir, port) => {
    const clock = new ManualClock(Date.now())
    const who = generateIdentity()
    const one = await startInstance(dir, port, clock, step)
    await first(one, who)
    await one.stopped
    await one.abandon()
    const two = await startInstance(dir, port, new ManualClock(clock.now()))
    t.teardown(() => two.service?.shutdown())
    t.equal(await checkConsistent(t, dir, two), 'on', 'on: a technician change never switches assistance off')
    await checkTechnicians(t, dir, two, who, expected)
  }
}

const cases: [string, Run][] = [
  ...ENABLE_STEPS.map((step): [string, Run] => [`enable stopped at ${step}`, stoppedAt(step, (i) => enable(i), expected(ENABLE_STEPS, 'enable', step, 'off', 'on'))]),
  ...DISABLE_STEPS.map((step): [string, Run] => [
    `disable stopped at ${step}`,
    stoppedAt(
      step,
      async (i) => {
        await i.service!.enable({ durationSeconds: SESSION_SECONDS, adminAccess: false })
        void i.service!.disable()
      },
      expected(DISABLE_STEPS, 'disable', step, 'on', 'off'),
    ),
  ]),
  ...EXPIRE_STEPS.map((step): [string, Run] => [
    `expiry stopped at ${step}`,
    stoppedAt(
      step,
      async (i, clock) => {
        await i.service!.enable({ durationSeconds: 60, adminAccess: false })
        await clock.advance(60_000, 1000)
      },
      'off',
      async (t, _dir, s) => {
        t.same((await s.auditRecords()).map((r) => r.event), ['enable', 'expire'], 'its expiry is audited once')
      },
    ),
  ]),
  ...IDLE_STEPS.map((step): [string, Run] => [
    `idle timeout stopped at ${step}`,
    stoppedAt(
      step,
      async (i, clock) => {
        await i.service!.enable({ durationSeconds: SESSION_SECONDS, adminAccess: false, idleMinutes: 1 })
        await clock.advance(61_000, 1000)
      },
      // the idle deadline is saved with the session (state format 4) and has passed: whatever the
      // step, the restart finds the session over and ends it, if the stopped run had not recorded it
      'off',
      async (t, _dir, s) => {
        t.equal((await s.auditRecords()).filter((r) => r.event === 'idle').length, 1, 'its idle end is audited once')
      },
    ),
  ]),
  ...REQUEST_STEPS.map((step): [string, Run] => [
    `a pending request stopped at ${step}`,
    technicianStoppedAt(
      step,
      async (i, who) => {
        await i.service!.enable({ durationSeconds: SESSION_SECONDS, adminAccess: false, consent: 'ask' })
        ask(i, who)
      },
      ['waiting'],
    ),
  ]),
  ...ADMIT_STEPS.map((step): [string, Run] => [
    `an admission stopped at ${step}`,
    technicianStoppedAt(
      step,
      async (i, who) => {
        await i.service!.enable({ durationSeconds: SESSION_SECONDS, adminAccess: false, consent: 'ask' })
        ask(i, who)
        await settle(() => i.service!.technicians().length === 1)
        void i.service!.decide(i.service!.technicians()[0]!.id, true, 'console').catch(() => {})
      },
      ['admitted'],
    ),
  ]),
  ...DISCONNECT_STEPS.map((step): [string, Run] => [
    `a disconnect stopped at ${step}`,
    technicianStoppedAt(
      step,
      async (i, who) => {
        await i.service!.enable({ durationSeconds: SESSION_SECONDS, adminAccess: false, consent: 'auto' })
        ask(i, who)
        await settle(() => ask(i, who).state === 'admitted')
        void i.service!.disconnect(i.service!.technicians()[0]!.id, 'api').catch(() => {})
      },
      ['disconnected'],
    ),
  ]),
  ...ROLLBACK_STEPS.map((step): [string, Run] => [
    `roll-back at start stopped at ${step}`,
    async (t, dir, port) => {
      const clock = new ManualClock(Date.now())
      const one = await startInstance(dir, port, clock, 'enable:edge-started')
      enable(one)
      await one.stopped
      await one.abandon()
      const two = await startInstance(dir, port, clock, step)
      t.equal(two.service, null, 'the second instance stopped while starting')
      await two.stopped
      await two.abandon()
      const three = await startInstance(dir, port, clock)
      t.teardown(() => three.service?.shutdown())
      t.equal(await checkConsistent(t, dir, three), 'off', 'off')
      t.equal((await three.service!.auditRecords()).filter((r) => r.event === 'enable-failed').length, 1, 'the roll-back is audited once')
    },
  ]),
]

t.test('stopped at every step of enable, disable, expiry, idle timeout, roll-back, a request, an admission and a disconnect: one of the two consistent states after a restart', async (t) => {
  t.equal(new Set(cases.map(([name]) => name.split(' stopped at ')[1])).size, ALL_STEPS.length, `every step is a case (${ALL_STEPS.length})`)
  const supernode = await Supernode.start({ port: 0, bindAddress: '127.0.0.1', mgmt: null })
  t.teardown(() => supernode.stop())
  for (const [name, run] of cases) {
    await t.test(name, async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'overlan-steps-'))
      t.teardown(() => rm(dir, { recursive: true, force: true }))
      await run(t, dir, supernode.port)
    })
  }
})

t.test('a session on disk that the audit log never enabled is rolled back; one the log shows enabled with no state is recorded as lost', async (t) => {
  const supernode = await Supernode.start({ port: 0, bindAddress: '127.0.0.1', mgmt: null })
  t.teardown(() => supernode.stop())
  const dir = await mkdtemp(join(tmpdir(), 'overlan-steps-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const clock = new ManualClock(Date.now())
  const one = await startInstance(dir, supernode.port, clock)
  await one.service!.enable({ durationSeconds: SESSION_SECONDS, adminAccess: false })
  await one.service!.shutdown()
  await writeFile(join(dir, 'state.json'), JSON.stringify({ version: 1, session: null }))
  const two = await startInstance(dir, supernode.port, clock)
  t.teardown(() => two.service?.shutdown())
  t.equal(await checkConsistent(t, dir, two), 'off')
  t.match((await two.service!.auditRecords()).at(-1), { event: 'session-lost', details: { reason: /no session/ } }, 'the lost session is audited')
})
