// The audit log is a hash chain: `overlan audit verify` passes on the log as written and names the
// line where a deleted, edited or inserted record breaks it (including the last lines).
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { AUDIT_FILE, AUDIT_HEAD_FILE, AuditLog, verifyAuditLog } from '../../src/assist/audit-log.js'
import { startTestAssist } from '../fixtures/assist.js'

const bin = fileURLToPath(new URL('../../bin/overlan.js', import.meta.url))

async function verify(stateDir: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'audit', 'verify', '--state-dir', stateDir])
    return { code: 0, out: stdout }
  } catch (err) {
    const e = err as { code: number; stderr: string }
    return { code: e.code, out: e.stderr }
  }
}

t.test('verify passes as written; deleting, editing or cutting lines is detected', async (t) => {
  const a = await startTestAssist(t)
  for (let i = 0; i < 3; i++) {
    await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 60 })
    await a.api('POST', '/api/assistance', { enabled: false })
  }
  const path = join(a.stateDir, AUDIT_FILE)
  const original = await readFile(path, 'utf8')
  const lines = original.trimEnd().split('\n')
  t.equal(lines.length, 6)
  t.match(await verify(a.stateDir), { code: 0, out: /6 records, chain intact/ })

  const tamper = async (what: string, text: string, line: RegExp): Promise<void> => {
    await writeFile(path, text)
    const result = await verify(a.stateDir)
    t.equal(result.code, 3, `${what}: non-zero exit`)
    t.match(result.out, line, `${what}: ${result.out.trim()}`)
    await writeFile(path, original)
  }
  await tamper('a line deleted', [lines[0], ...lines.slice(2)].join('\n') + '\n', /line 2/)
  await tamper('a line edited', [lines[0], lines[1]!.replace('"disable"', '"enable"'), ...lines.slice(2)].join('\n') + '\n', /line 3/)
  await tamper('the first line deleted', lines.slice(1).join('\n') + '\n', /line 1/)
  await tamper('the last line deleted', lines.slice(0, -1).join('\n') + '\n', /removed or edited/)
  await tamper('the last line edited', [...lines.slice(0, -1), lines.at(-1)!.replace('disable', 'enable')].join('\n') + '\n', /last record was edited/)
  await tamper('two lines swapped', [lines[1], lines[0], ...lines.slice(2)].join('\n') + '\n', /line 1/)
  t.match(await verify(a.stateDir), { code: 0 }, 'the original still verifies')
})

t.test('an append killed between its line and its head: verify says so, the next open completes it; a line that does not follow stays refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'overlan-audit-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, AUDIT_FILE)
  const log = await AuditLog.open(dir)
  await log.append('enable', { community: 'assist-x' }, Date.now())
  const headAfterOne = await readFile(join(dir, AUDIT_HEAD_FILE), 'utf8')
  await log.append('disable', { community: 'assist-x' }, Date.now())
  await writeFile(join(dir, AUDIT_HEAD_FILE), headAfterOne) // the head as a kill before its write leaves it
  t.match(await verifyAuditLog(path), { ok: false, line: 2, problem: /did not finish/ }, 'verify names the unfinished append')
  await AuditLog.open(dir)
  t.match(await verifyAuditLog(path), { ok: true, records: 2 }, 'the next open completes it')

  const lines = (await readFile(path, 'utf8')).trimEnd().split('\n')
  const forged = JSON.stringify({ seq: 3, time: new Date().toISOString(), event: 'disable', details: {}, prev: '1'.repeat(64) })
  await writeFile(path, [...lines, forged].join('\n') + '\n')
  await AuditLog.open(dir)
  t.match(await verifyAuditLog(path), { ok: false, line: 3 }, 'a line that does not follow the last is not taken in')
})
