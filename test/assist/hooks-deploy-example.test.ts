// deploy/overlan-admin-hook.sh, the commented example hook, run as the service runs it but with
// stand-ins for useradd, chpasswd, userdel, id and loginctl on PATH (they record what they were
// asked and keep a fake user list): start makes the user with the day of expiry and the password
// on stdin, only when admin access was asked for; end removes it, and a second end, or an end
// after no start, succeeds doing nothing.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { runHook } from '../../src/assist/hooks.js'
import { systemClock } from '../../src/time/clock.js'

const HOOK = fileURLToPath(new URL('../../deploy/overlan-admin-hook.sh', import.meta.url))

t.test('the example hook makes a user for the session and removes it, once, at the end', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'overlan-hook-example-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const calls = join(dir, 'calls')
  const users = join(dir, 'users')
  await writeFile(users, '')
  const stub = async (name: string, body: string): Promise<void> => {
    await writeFile(join(dir, name), `#!/bin/sh\necho "${name} $*" >> ${calls}\n${body}\n`)
    await chmod(join(dir, name), 0o755)
  }
  await stub('useradd', `for a; do last=$a; done; echo "$last" >> ${users}`)
  await stub('chpasswd', `echo "stdin $(cat)" >> ${calls}`)
  await stub('userdel', `for a; do last=$a; done; grep -vx "$last" ${users} > ${users}.new; mv ${users}.new ${users}`)
  await stub('id', `grep -qx "$1" ${users}`)
  await stub('loginctl', 'true')
  const env = (extra: Record<string, string>): Record<string, string> => ({ PATH: `${dir}:/usr/bin:/bin`, OVERLAN_SESSION_ID: 'assist-k3j9x0q2m7ab', OVERLAN_EXPIRES_AT: '2026-12-01T09:30:00.000Z', ...extra })
  const run = (which: string, extra: Record<string, string> = {}) => runHook(`${HOOK} ${which}`, env(extra), systemClock, 10_000)
  const log = async (): Promise<string[]> => (await readFile(calls, 'utf8').catch(() => '')).trim().split('\n').filter((l) => l !== '')

  t.same(await run('start'), { ok: true }, 'start without admin access: ok')
  t.same(await log(), [], 'and no user made')
  t.same(await run('start', { OVERLAN_ADMIN_PASSWORD: 'Pw2x9' }), { ok: true })
  t.same(await log(), ['useradd --create-home --shell /bin/bash --expiredate 2026-12-01 --comment overlan assistance assist-k3j9x0q2m7ab overlan-x0q2m7ab', 'chpasswd ', 'stdin overlan-x0q2m7ab:Pw2x9'], 'useradd with the day of expiry; the password on stdin, not in argv')
  t.equal((await readFile(users, 'utf8')).trim(), 'overlan-x0q2m7ab')
  t.same(await run('end', { OVERLAN_SESSION_END_REASON: 'off' }), { ok: true })
  t.equal((await readFile(users, 'utf8')).trim(), '', 'the user is gone at the end')
  t.match((await log()).slice(-2), ['loginctl terminate-user overlan-x0q2m7ab', 'userdel --remove overlan-x0q2m7ab'])
  const before = (await log()).length
  t.same(await run('end', { OVERLAN_SESSION_END_REASON: 'off' }), { ok: true }, 'a second end (a restart ran it again): ok')
  t.same((await log()).slice(before), ['id overlan-x0q2m7ab'], 'and it only looks')
  t.match(await run('bogus'), { ok: false, reason: /exit code 2: usage: .* start\|end/ }, 'a wrong argument: one line')
})
