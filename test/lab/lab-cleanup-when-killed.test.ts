// The lab fixture cleans up after a test process that ends without its teardown: SIGTERM (what a
// runner sends), SIGINT (Ctrl-C) and an exit in the middle of the test. A child process builds a
// small NAT lab (test/fixtures/killed-lab.ts) with processes in it, one of which left its process
// group; once it is told to end, none of its namespaces and none of its processes may remain.
// (tap's timeout is SIGALRM then SIGKILL: the same synchronous cleanup runs at the SIGALRM.)
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { childScript } from '../fixtures/child-script.js'
import { run } from '../fixtures/netns.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const SCRIPT = fileURLToPath(new URL('../fixtures/killed-lab.ts', import.meta.url))
/** building four namespaces and their links takes about a second; far longer on a loaded machine */
const READY_MS = 60_000
/** the cleanup is a few `ip` commands: seconds at most */
const EXIT_MS = 20_000
/** the lab's processes: a sleep, a shell and its sleep, a sleep that left its group */
const LAB_PROCESSES = 4

interface Started {
  child: ChildProcess
  namespaces: string[]
  marker: string
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts the lab child and waits for its line; the test's teardown ends it if it still runs. */
async function startLab(t: Test, mode: 'signal' | 'exit'): Promise<Started> {
  const marker = randomBytes(8).toString('hex')
  const { path, loader } = childScript(SCRIPT)
  const child = spawn(process.execPath, [...loader, path, marker, mode], { stdio: ['pipe', 'pipe', 'pipe'] })
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  // should this test fail first, the child still cleans up on SIGTERM
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exit
    }
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const line = await new Promise<string | null>((resolve) => {
    let out = ''
    const timer = setTimeout(() => resolve(null), READY_MS)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
      if (out.includes('\n')) {
        clearTimeout(timer)
        resolve(out.split('\n')[0]!)
      }
    })
    void exit.then(() => resolve(null))
  })
  if (line === null) throw new Error(`the lab child did not get ready: ${stderr}`)
  return { child, namespaces: (JSON.parse(line) as { namespaces: string[] }).namespaces, marker, exit }
}

/** PIDs of the processes whose environment holds the marker (a lab process of this run). */
function markedPids(marker: string): number[] {
  const needle = `OVERLAN_LAB_MARKER=${marker}`
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let environ: string
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1')
    } catch (err) {
      // the process ended while we looked, or it is not ours to read (pid 1 of a container): not a lab process either way
      if (['ENOENT', 'ESRCH', 'EACCES', 'EPERM'].includes((err as NodeJS.ErrnoException).code ?? '')) continue
      throw err
    }
    if (environ.split('\0').includes(needle)) pids.push(Number(entry))
  }
  return pids
}

async function namespacesNow(): Promise<Set<string>> {
  const { stdout } = await run('ip', ['netns', 'list'])
  return new Set(stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n !== ''))
}

async function endsClean(t: Test, s: Started, how: string, end: () => void, expected: { code: number | null; signal: NodeJS.Signals | null }): Promise<void> {
  const before = await namespacesNow()
  t.ok(s.namespaces.length >= 4 && s.namespaces.every((n) => before.has(n)), `the lab's ${s.namespaces.length} namespaces exist`)
  // the spawns are on their way when the child reports: `ip netns exec` execs each, setsid forks and exits
  const deadline = Date.now() + READY_MS
  while (markedPids(s.marker).length !== LAB_PROCESSES && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(markedPids(s.marker).length, LAB_PROCESSES, `its ${LAB_PROCESSES} processes run`)
  end()
  const exit = await Promise.race([s.exit, new Promise<null>((resolve) => setTimeout(() => resolve(null), EXIT_MS))])
  t.same(exit, expected, `${how}: the process ended as it would have without a lab (${JSON.stringify(exit)})`)
  const after = await namespacesNow()
  t.same(s.namespaces.filter((n) => after.has(n)), [], `${how}: none of its namespaces remains`)
  t.same(markedPids(s.marker), [], `${how}: none of its processes remains, the one that left its group included`)
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`a test process that gets ${signal} mid-run leaves no namespace and no process of its lab`, async (t) => {
    if (skipUnlessRoot(t, 'network namespaces')) return
    const s = await startLab(t, 'signal')
    await endsClean(t, s, signal, () => s.child.kill(signal), { code: null, signal })
  })
}

t.test('a test process that exits mid-run leaves no namespace and no process of its lab', async (t) => {
  if (skipUnlessRoot(t, 'network namespaces')) return
  const s = await startLab(t, 'exit')
  await endsClean(t, s, 'process.exit(3)', () => s.child.stdin!.write('exit\n'), { code: 3, signal: null })
})
