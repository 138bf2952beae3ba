// The assistance service killed with SIGKILL (OVERLAN_CRASH_AT) while a technician's request is
// pending and while a technician is being disconnected, with the real technician CLI running
// throughout (root: real TAP devices, alone in a namespace). After the restart the technician list,
// the state file and the certificates in force agree: the pending request is still waiting and can
// be admitted (the CLI, which never restarted, then gets its certificate); the disconnect saved
// before the kill reaches the supernode through the restarted device edge, and the technician's
// edge stops (with "disconnected by the device's owner", or the supernode's refusal of its revoked
// certificate when the revocation reached the restarted supernode before the technician's next
// registration). Each state is audited once.
import t, { type Test } from 'tap'
import { DISCONNECT_STEPS, REQUEST_STEPS } from '../../src/assist/steps.js'
import type { TechnicianRecord } from '../../src/assist/technicians.js'
import { waitFor } from '../fixtures/lab.js'
import { killedAt, runKillCases, type KillCase, type LoneAssist } from '../fixtures/lab-assist.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const SESSION_SECONDS = 600
/**
 * Bounds for a loaded machine (a run at a load of 15 on 2 cores took over 30 s from the CLI's start
 * to its request): the technician's client polls every second and starts again after 5 s of
 * silence; the device edge comes back with the service. The waits end as soon as the thing happens.
 */
const BACK_WITHIN_MS = 90_000
const ASKING_WITHIN_MS = 90_000
const WAITING_LINE = /waiting for the device's owner to admit you/

type Listed = { id: string; state: string; certificate: string | null }

/** The service's list is the state file's, and each technician's state is audited exactly once. */
async function agree(t: Test, a: LoneAssist): Promise<TechnicianRecord[]> {
  const onDisk = (await a.session())?.technicians ?? []
  const listed = (await a.api('GET', '/api/technicians')).json as unknown as Listed[]
  t.same(listed.map((x) => [x.id, x.state]), onDisk.map((x) => [x.id, x.state]), "the service lists what the state file holds")
  const records = (await a.auditRecords()).filter((r) => ['technician-request', 'technician-admitted', 'technician-denied', 'technician-gone', 'technician-disconnected'].includes(r.event))
  for (const x of onDisk) {
    const mine = records.filter((r) => r.details.id === x.id).map((r) => r.event)
    t.equal(new Set(mine).size, mine.length, `each state of ${x.id} audited once (${mine.join(', ')})`)
    t.equal(mine.at(-1), `technician-${x.state === 'waiting' ? 'request' : x.state}`, "the log's last word on it is its state")
  }
  return onDisk
}

const cases: KillCase[] = [
  ...REQUEST_STEPS.map((step) => ({
    name: `a pending request, killed at ${step}`,
    async run(t: Test, a: LoneAssist) {
      const first = await a.startAndWait('assist#1', step)
      const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: SESSION_SECONDS, consent: 'ask' })
      t.equal(on.status, 200, 'enabled, consent ask')
      const tech = a.technician('alice', on.json.token as string, 'alice')
      t.ok((await tech.waitForLine(WAITING_LINE, ASKING_WITHIN_MS)) !== null, 'alice asks and waits')
      await killedAt(t, first, step)
      await a.startAndWait('assist#2')
      const onDisk = await agree(t, a)
      t.same(onDisk.map((x) => [x.name, x.state, x.certificate]), [['alice', 'waiting', undefined]], 'after the restart: alice waiting, no certificate in force')
      if (onDisk[0] === undefined) return
      // the CLI never restarted: it asks the restarted device again, and Allow reaches it
      const admitted = await a.api('POST', `/api/technicians/${onDisk[0].id}`, { admit: true })
      t.match(admitted, { status: 200, json: { state: 'admitted' } }, 'Allow after the restart')
      const joined = await tech.waitForLine(/edge [0-9a-f]+ on tech0/, BACK_WITHIN_MS)
      t.ok(joined !== null, "alice's CLI, which never restarted, gets the certificate and starts its edge", joined === null ? { output: tech.lines.join('\n') } : {})
      const saved = (await a.session())!.technicians[0]!
      t.ok(saved.certificate !== undefined && saved.state === 'admitted', 'the certificate in force is the one saved')
      await tech.stop('SIGTERM')
    },
  })),
  ...DISCONNECT_STEPS.map((step) => ({
    name: `a disconnect, killed at ${step}`,
    async run(t: Test, a: LoneAssist) {
      const first = await a.startAndWait('assist#1', step)
      const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: SESSION_SECONDS, consent: 'auto' })
      const tech = a.technician('bob', on.json.token as string, 'bob')
      const admitted = await waitFor('bob admitted and joined', async () => ((await a.api('GET', '/api/technicians')).json as unknown as Listed[]).find((x) => x.state === 'admitted'), ASKING_WITHIN_MS)
      t.ok(admitted.ok, 'bob admitted (consent auto)')
      if (admitted.value === undefined) return
      t.ok((await tech.waitForLine(/edge [0-9a-f]+ on tech0/, BACK_WITHIN_MS)) !== null, "bob's edge runs")
      t.equal((await a.api('DELETE', `/api/technicians/${admitted.value.id}`)).status, 0, 'the disconnect never answered')
      await killedAt(t, first, step)
      await a.startAndWait('assist#2')
      const onDisk = await agree(t, a)
      t.same(onDisk.map((x) => [x.name, x.state, x.revocation !== undefined]), [['bob', 'disconnected', true]], 'after the restart: bob disconnected, his revocation saved')
      const exit = await tech.waitExit(BACK_WITHIN_MS)
      t.match(exit, { code: 8 }, "bob's edge stops: the restarted device edge handed the supernode his revocation", exit === null ? { output: tech.lines.join('\n') } : {})
      // which line depends on the order after the restart: registered first, he is removed with the
      // signed revocation ("disconnected"); the revocation first, his next REGISTER is refused
      const said = tech.lines.find((l) => l.includes("disconnected by the device's owner") || l.includes("refuses this technician's certificate"))
      t.ok(said !== undefined, `saying his certificate is revoked: ${said ?? tech.lines.slice(-3).join(' | ')}`)
      if (exit === null) await tech.stop('SIGKILL')
    },
  })),
]

t.test('SIGKILL during a pending request and during a disconnect: the technicians and the certificates in force agree after a restart', async (t) => {
  if (skipUnlessRoot(t, 'the assistance service killed at technician steps, with real TAP devices in a namespace')) return
  await runKillCases(t, cases)
})
