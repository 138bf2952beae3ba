// The integrator's session hooks: --on-session-start runs with the session's ID, end time and admin
// password; --on-session-end with its ID and why it ended. A start hook that fails or overruns
// (killed after 30 s of the injected clock, its process group with it) refuses the session: the API
// answers 503 with its line, the status shows it, the audit log records it, the device edge is gone
// and the end hook cleans up. The end hook runs again after a stop that left the end recorded but
// the state not cleared, and after a restart that finds the session expired.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { HOOK_TIMEOUT_MS, type HookCommands } from '../../src/assist/hooks.js'
import { RECEIPTS_DIR } from '../../src/assist/receipt-store.js'
import { Supernode } from '../../src/supernode/supernode.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { poll, startTestAssist } from '../fixtures/assist.js'
import { stoppableService } from '../fixtures/receipts.js'

async function scratch(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'overlan-hooks-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Hook commands that append what they saw to `log`, one line per run; the start hook then runs `then`. */
function recordingHooks(log: string, then = 'true'): HookCommands {
  return {
    onSessionStart: `echo "start id=$OVERLAN_SESSION_ID expires=$OVERLAN_EXPIRES_AT password=\${OVERLAN_ADMIN_PASSWORD:-none}" >> ${log}; ${then}`,
    onSessionEnd: `echo "end id=$OVERLAN_SESSION_ID expires=$OVERLAN_EXPIRES_AT reason=$OVERLAN_SESSION_END_REASON" >> ${log}`,
  }
}

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8').catch(() => '')).trim().split('\n').filter((l) => l.length > 0)
}


t.test('start and end hooks run with the session facts in their environment', async (t) => {
  const dir = await scratch(t)
  const log = join(dir, 'hooks.log')
  const a = await startTestAssist(t, { hooks: recordingHooks(log) })
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600, adminAccess: true })
  t.equal(on.status, 200)
  const community = ((await a.api('GET', '/api/audit')).json as unknown as { event: string; details: { community: string } }[]).find((r) => r.event === 'enable')!.details.community
  t.same(await lines(log), [`start id=${community} expires=${String(on.json.expiresAt)} password=${String(on.json.adminPassword)}`], 'the start hook saw the ID, the end time and the admin password the API showed')
  await a.api('POST', '/api/assistance', { enabled: false })
  t.same((await lines(log))[1], `end id=${community} expires=${on.json.expiresAt as string} reason=off`, 'the end hook ran once, reason off')
  const hookRecords = ((await a.api('GET', '/api/audit')).json as unknown as { event: string; details: Record<string, unknown> }[]).filter((r) => r.event === 'session-hook')
  t.match(hookRecords, [{ details: { hook: 'session-start', outcome: 'ok', sessionId: community } }, { details: { hook: 'session-end', outcome: 'ok' } }], 'both runs audited')
  t.notMatch(JSON.stringify(hookRecords), on.json.adminPassword, 'the password is not in the audit log')
})

t.test('a failing start hook switches the session off again: 503 with its line, audited, shown, cleaned up', async (t) => {
  const dir = await scratch(t)
  const log = join(dir, 'hooks.log')
  const a = await startTestAssist(t, { hooks: recordingHooks(log, 'echo "useradd: cannot lock /etc/passwd" >&2; exit 4') })
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600 })
  t.equal(on.status, 503)
  t.equal(on.json.error, 'the session-start hook failed: exit code 4: useradd: cannot lock /etc/passwd')
  const status = (await a.api('GET', '/api/assistance')).json
  t.match(status, { enabled: false, error: 'the session-start hook failed: exit code 4: useradd: cannot lock /etc/passwd' }, 'the status (and so the console) shows it')
  t.ok(a.taps[0]!.closed, "the device's edge is gone: never half on")
  const events = ((await a.api('GET', '/api/audit')).json as unknown as { event: string; details: Record<string, unknown> }[]).map((r) => `${r.event}${r.event === 'session-hook' ? `:${String(r.details.hook)}:${String(r.details.outcome)}` : ''}`)
  t.same(events, ['session-hook:session-start:failed', 'enable-failed', 'session-hook:session-end:ok'], 'the failure, the switch-off, the end hook')
  t.match(await lines(log), [/^start /, /^end .* reason=failed$/], 'the end hook ran to undo what the start hook did')
  t.same(await readdir(join(a.stateDir, RECEIPTS_DIR)).catch(() => []), [], 'a session that never started leaves no receipt')
})

t.test('a start hook still running after 30 s is killed with its children, and the session refused', async (t) => {
  const dir = await scratch(t)
  const pidFile = join(dir, 'pid')
  const clock = new ManualClock(Date.now())
  const a = await startTestAssist(t, { clock, hooks: { onSessionStart: `sleep 1000 & echo $! > ${pidFile}; wait` } })
  const answer = a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600 })
  // real time: the request, the edge's start and the shell (the timer runs on the injected clock only)
  const pid = await poll(async () => Number((await readFile(pidFile, 'utf8').catch(() => '')).trim()) || 0, (p) => p > 0, 100)
  t.ok(pid > 0, 'the hook started a child')
  await clock.advance(HOOK_TIMEOUT_MS, 1000)
  const on = await answer
  t.equal(on.status, 503)
  t.equal(on.json.error, 'the session-start hook failed: still running after 30 s: killed')
  // killed: gone, or a zombie until whoever inherited it reaps it
  t.ok(await poll(() => deadProcess(pid), (dead) => dead, 50), "the hook's child is gone too")
  t.equal((await a.api('GET', '/api/assistance')).json.enabled, false)
})

/** The process is gone or a zombie (killed, not reaped yet). */
async function deadProcess(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null)
  return stat === null || / Z /.test(stat.slice(stat.lastIndexOf(')')))
}

t.test('the end hook runs after a restart that finds the session over', async (t) => {
  const clock = new ManualClock(Date.now())
  const supernode = await Supernode.start({ port: 0, bindAddress: '127.0.0.1', mgmt: null }, { clock })
  t.teardown(() => supernode.stop())

  t.test('stopped after the end was recorded, before its hook: the next start runs it', async (t) => {
    const dir = await scratch(t)
    const log = join(dir, 'hooks.log')
    const first = await stoppableService(dir, supernode.port, clock, { hooks: recordingHooks(log), stopAt: 'disable:recorded' })
    await first.service.enable({ durationSeconds: 600, adminAccess: false })
    void first.service.disable()
    // real time: the stop comes once the disable is in the log (file I/O)
    t.ok(await poll(() => lines(join(dir, 'audit.log')), (l) => l.some((line) => line.includes('"event":"disable"'))), 'the end was recorded')
    await first.abandon()
    t.same((await lines(log)).map((l) => l.split(' ')[0]), ['start'], 'killed before the end hook')
    const second = await stoppableService(dir, supernode.port, clock, { hooks: recordingHooks(log) })
    t.teardown(() => second.service.shutdown())
    t.match(await lines(log), [/^start /, /^end .* reason=off$/], 'the restart ran the end hook')
    t.equal(second.service.status().enabled, false)
  })

  t.test('stopped during the session, started again after its end: the end hook runs, reason expiry', async (t) => {
    const dir = await scratch(t)
    const log = join(dir, 'hooks.log')
    const first = await stoppableService(dir, supernode.port, clock, { hooks: recordingHooks(log) })
    await first.service.enable({ durationSeconds: 600, adminAccess: false })
    await first.service.shutdown()
    clock.jump(601_000)
    const second = await stoppableService(dir, supernode.port, clock, { hooks: recordingHooks(log) })
    t.teardown(() => second.service.shutdown())
    t.match(await lines(log), [/^start /, /^end .* reason=expiry$/])
    t.equal(second.service.status().enabled, false)
  })
})
