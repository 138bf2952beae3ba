// `overlan supernode` as the lab engineer runs it: a separate process, its management API,
// an edge registering with it, and a clean stop on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { availableParallelism } from 'node:os'
import t, { type Test } from 'tap'
import { registered, startEdge } from '../fixtures/overlay.js'

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

const bin = fileURLToPath(new URL('../../bin/overlan.js', import.meta.url))

/** `overlan supernode` on loopback with `args`, killed at teardown; resolves with its management URL once it says where. */
async function supernodeCli(t: Test, args: string[] = []): Promise<{ child: ChildProcess; mgmtUrl: string; stderr: () => string }> {
  const child = spawn(process.execPath, [bin, 'supernode', '-p', '0', '--bind', '127.0.0.1', '--mgmt', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let stderr = ''
  const mgmtUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no management line in: ${stderr}`)), 10_000)
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      const match = /management on (http:\/\/[^/]+)\/status/.exec(stderr)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    })
  })
  return { child, mgmtUrl, stderr: () => stderr }
}

t.test('runs, serves /status and /metrics, registers an edge, stops cleanly on SIGTERM', async (t) => {
  const { child, mgmtUrl, stderr: logged } = await supernodeCli(t)
  const status = (await (await fetch(`${mgmtUrl}/status`)).json()) as { port: number; edges: { id: string; ip: string }[]; signatureChecks: { thread: string } }
  t.ok(status.port > 0, `listening on UDP ${status.port}`)
  const twoCores = availableParallelism() > 1
  t.equal(status.signatureChecks.thread, twoCores ? 'worker' : 'main', `signatures verified on ${twoCores ? 'a worker thread: more than one core' : 'the main thread: one core'}`)
  if (twoCores) t.match(logged(), /memory bound \d+ MiB: process \d+ MiB \+ signature worker 24 MiB/, 'the memory bound counts the worker')

  const e = await startEdge(t, [status.port])
  await registered(e)
  const after = (await (await fetch(`${mgmtUrl}/status`)).json()) as typeof status
  t.equal(after.edges.length, 1)
  t.equal(after.edges[0]!.ip, `${e.edge.overlay!.address}/24`)
  t.notMatch(JSON.stringify(after), /key/i, 'status names no key')
  const metrics = await (await fetch(`${mgmtUrl}/metrics`)).text()
  t.match(metrics, /^overlan_supernode_edges 1$/m)
  t.match(metrics, /overlan_supernode_registrations_total [1-9]/)
  t.match(logged(), /registered edge [0-9a-f]{14}/, 'one log line per registration')
  t.equal((await fetch(`${mgmtUrl}/nope`)).status, 404)
  t.equal((await fetch(`${mgmtUrl}/status`, { method: 'POST' })).status, 405)

  child.kill('SIGTERM')
  const code = await exitCode(child)
  t.equal(code, 0, 'exit code 0 after SIGTERM')
})

t.test('--no-signature-worker: signatures verified on the main thread, edges register as well', async (t) => {
  const { child, mgmtUrl } = await supernodeCli(t, ['--no-signature-worker'])
  const status = (await (await fetch(`${mgmtUrl}/status`)).json()) as { port: number; signatureChecks: { thread: string; waiting: number } }
  t.same(status.signatureChecks, { thread: 'main', waiting: 0 })
  const e = await startEdge(t, [status.port])
  await registered(e)
  child.kill('SIGTERM')
  t.equal(await exitCode(child), 0)
})

t.test('bad options: one line, non-zero exit, nothing bound', async (t) => {
  for (const args of [['-p', '70000'], ['--max-edges', '0'], ['--mgmt', 'nonsense:port'], ['--log-level', 'loud'], ['--auto-ip', '300.1.1.1/24'], ['--keepalive', '0'], ['--expire-after', 'x'], ['--max-edges-per-endpoint', '0'], ['--max-edges-total', '-1'], ['--relay-budget-source', '1K'], ['--relay-budget-community', 'fast'], ['--max-tracked-sources', '0']]) {
    const child = spawn(process.execPath, [bin, 'supernode', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    const code = await exitCode(child)
    t.not(code, 0, `supernode ${args.join(' ')} fails`)
    t.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr.trim()}`)
    if (args[0]!.startsWith('--max-') || args[0]!.startsWith('--relay-')) t.match(stderr, args[0]!, 'naming the option')
  }
})
