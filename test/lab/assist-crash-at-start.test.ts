// The steps a restart itself takes, each killed with SIGKILL: closing a session that expired while
// the service was stopped, and rolling back an enable that was stopped before its audit record.
// The real CLI with a real TAP device, alone in a namespace; after one more restart, off, audited once.
import t, { type Test } from 'tap'
import { EXPIRE_STEPS, ROLLBACK_STEPS } from '../../src/assist/steps.js'
import { killedAt, runKillCases, type KillCase, type LoneAssist } from '../fixtures/lab-assist.js'
import { waitFor } from '../fixtures/lab.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const SESSION_SECONDS = 600
/** Short enough that a case waits for expiry in about a second. */
const EXPIRING_SECONDS = 1

const cases: KillCase[] = [
  ...EXPIRE_STEPS.map((step) => ({
    name: `expiry found at start, killed at ${step}`,
    async run(t: Test, a: LoneAssist) {
      // killed once the enable is recorded: dead before its own expiry timer can fire
      const first = await a.startAndWait('assist#1', 'enable:recorded')
      await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: EXPIRING_SECONDS })
      await killedAt(t, first, 'enable:recorded')
      const expiresAt = (await a.session())?.expiresAt ?? 0
      await waitFor('the session to be past its expiry', () => (Date.now() > expiresAt ? true : undefined), 5_000, 50)
      await killedAt(t, a.start('assist#2', step), step)
      await a.startAndWait('assist#3')
      t.equal(await a.checkConsistent(t, 'after the second restart'), 'off', 'off')
      t.match((await a.auditRecords()).filter((r) => r.event === 'expire'), [{ event: 'expire', details: { note: /while the service was stopped/ } }], 'its expiry is audited once')
    },
  })),
  ...ROLLBACK_STEPS.map((step) => ({
    name: `roll-back of an unfinished enable at start, killed at ${step}`,
    async run(t: Test, a: LoneAssist) {
      const first = await a.startAndWait('assist#1', 'enable:edge-started')
      await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: SESSION_SECONDS })
      await killedAt(t, first, 'enable:edge-started')
      await killedAt(t, a.start('assist#2', step), step)
      await a.startAndWait('assist#3')
      t.equal(await a.checkConsistent(t, 'after the second restart'), 'off', 'off')
      t.equal((await a.auditRecords()).filter((r) => r.event === 'enable-failed').length, 1, 'the roll-back is audited once')
    },
  })),
]

t.test('SIGKILL at every step of a restart that closes an expired session or rolls back an enable: off after one more', async (t) => {
  if (skipUnlessRoot(t, 'the assistance service killed at each step of its start, with a real TAP device in a namespace')) return
  const steps = [...EXPIRE_STEPS, ...ROLLBACK_STEPS]
  t.same(cases.map((c) => c.name.split(', killed at ')[1]), steps, `every step is a case (${steps.length})`)
  await runKillCases(t, cases)
})
