// `overlan edge` where it cannot make its TAP device: one line that says how to fix it, exit 2,
// never a stack trace.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const bin = fileURLToPath(new URL('../../bin/overlan.js', import.meta.url))
const run = promisify(execFile)

async function exitOf(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await run(cmd, args, { timeout: 20_000 })
    return { code: 0, stderr: '' }
  } catch (err) {
    const e = err as { code: number; stderr: string }
    return { code: e.code, stderr: e.stderr }
  }
}

t.test('without CAP_NET_ADMIN: exit 2, one line naming the fix', async (t) => {
  // dropping to an unprivileged user needs root to begin with
  if (skipUnlessRoot(t, 'edge without CAP_NET_ADMIN (needs root to drop to nobody)')) return
  // `env -i`: tap re-injects its instrumentation (NODE_OPTIONS) into children, which cannot write as nobody
  const { code, stderr } = await exitOf('env', ['-i', `PATH=${process.env.PATH}`, 'runuser', '-u', 'nobody', '--', process.execPath, bin, 'edge', '-c', 'lab', '-k', 'x', '-l', '127.0.0.1:7654', '--mgmt', 'off'])
  t.equal(code, 2)
  t.equal(stderr.trim().split('\n').length, 1, stderr.trim())
  t.match(stderr, /run as root or grant CAP_NET_ADMIN/)
  t.notMatch(stderr, /\n\s+at /, 'no stack trace')
})

t.test('a device name the kernel would refuse: exit 2, one line', async (t) => {
  const { code, stderr } = await exitOf(process.execPath, [bin, 'edge', '-c', 'lab', '-k', 'x', '-l', '127.0.0.1:7654', '-d', 'bad/name', '--mgmt', 'off'])
  t.equal(code, 2)
  t.equal(stderr.trim().split('\n').length, 1, stderr.trim())
  t.match(stderr, /TAP device name/)
})

t.test('bad options are refused before any device is made: exit 1', async (t) => {
  const { code, stderr } = await exitOf(process.execPath, [bin, 'edge', '-c', 'lab', '-l', '127.0.0.1:7654'])
  t.equal(code, 1)
  t.match(stderr, /^overlan: give the community key/)
})
