// The assistance service killed with SIGKILL at every step of an enable, a disable and an expiry:
// the real CLI with a real TAP device, alone in a namespace, OVERLAN_CRASH_AT naming the step.
// After the restart the files, the service and the audit log agree on one of the two consistent
// states, never half, and it is the one the step implies: before the audit record commits a
// change, the old state; from it on, the new one. (assist-crash-at-start.test.ts: the steps a
// restart itself takes.)
import t, { type Test } from 'tap'
import { DISABLE_STEPS, ENABLE_STEPS, EXPIRE_STEPS } from '../../src/assist/steps.js'
import { expectedOutcome } from '../fixtures/assist.js'
import { killedAt, runKillCases, type KillCase, type LoneAssist } from '../fixtures/lab-assist.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

/** Long enough that nothing expires by itself during a case that does not wait for expiry. */
const SESSION_SECONDS = 600
/** Short enough that a case waits for expiry in about a second. */
const EXPIRING_SECONDS = 1

const cases: KillCase[] = [
  ...ENABLE_STEPS.map((step) => ({
    name: `enable, killed at ${step}`,
    async run(t: Test, a: LoneAssist) {
      const first = await a.startAndWait('assist#1', step)
      const answer = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: SESSION_SECONDS })
      t.equal(answer.status, 0, 'the enable never answered')
      await killedAt(t, first, step)
      const onDisk = await a.session()
      await a.startAndWait('assist#2')
      const outcome = await a.checkConsistent(t, 'after the restart')
      t.equal(outcome, expectedOutcome(ENABLE_STEPS, 'enable', step, 'off', 'on'), `${outcome}, as the step implies`)
      if (outcome === 'on') t.same(await a.session(), onDisk, 'the very session on disk at the kill: community, key, MAC, token, expiry')
      if (outcome === 'off' && onDisk !== null) t.match((await a.auditRecords()).at(-1), { event: 'enable-failed', details: { community: onDisk.community, reason: /stopped during the enable/ } }, 'the roll-back is audited')
    },
  })),
  ...DISABLE_STEPS.map((step) => ({
    name: `disable, killed at ${step}`,
    async run(t: Test, a: LoneAssist) {
      const first = await a.startAndWait('assist#1', step)
      const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: SESSION_SECONDS })
      t.equal(on.status, 200, 'enabled')
      const onDisk = await a.session()
      t.equal((await a.api('POST', '/api/assistance', { enabled: false })).status, 0, 'the disable never answered')
      await killedAt(t, first, step)
      await a.startAndWait('assist#2')
      const outcome = await a.checkConsistent(t, 'after the restart')
      t.equal(outcome, expectedOutcome(DISABLE_STEPS, 'disable', step, 'on', 'off'), `${outcome}, as the step implies`)
      if (outcome === 'on') {
        t.same(await a.session(), onDisk, 'the session as it was: community, key, MAC, token, expiry')
        t.equal(onDisk?.token, on.json.token, 'and the token the enable handed out')
      }
    },
  })),
  ...EXPIRE_STEPS.map((step) => ({
    name: `expiry, killed at ${step}`,
    async run(t: Test, a: LoneAssist) {
      const first = await a.startAndWait('assist#1', step)
      // on a loaded machine the expiry may come before the answer is sent: the log says whether it was enabled
      await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: EXPIRING_SECONDS })
      await killedAt(t, first, step)
      await a.startAndWait('assist#2')
      t.equal(await a.checkConsistent(t, 'after the restart'), 'off', 'off: the session has expired, whatever step the expiry stopped at')
      const events = (await a.auditRecords()).map((r) => r.event).filter((e) => e !== 'technician-joined' && e !== 'technician-left')
      t.same(events, ['enable', 'expire'], `enabled for ${EXPIRING_SECONDS} s, and its expiry audited once`)
    },
  })),
]

t.test('SIGKILL at every step of enable, disable and expiry: one of the two consistent states after a restart', async (t) => {
  if (skipUnlessRoot(t, 'the assistance service killed at each step, with a real TAP device in a namespace')) return
  const steps = [...ENABLE_STEPS, ...DISABLE_STEPS, ...EXPIRE_STEPS]
  t.same(cases.map((c) => c.name.split(', killed at ')[1]), steps, `every step is a case (${steps.length})`)
  await runKillCases(t, cases)
})
