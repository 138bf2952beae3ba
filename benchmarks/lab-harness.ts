// The namespace NAT lab of test/fixtures/lab.ts, driven from a benchmark instead of a tap test:
// no `Test`, cleanup in a finally (and synchronously at exit or on SIGINT / SIGTERM), and the CLI
// found from dist-bench/ (the fixture finds bin/overlan.js relative to its own file, which is one
// directory deeper once compiled into dist-bench/). Edges can be given extra node flags
// (--cpu-prof) and their CPU time read from /proc. Root only; every namespace, link and process
// is removed at the end, on success and on failure.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EdgeProcess, LabProcess, NatLab, SUPERNODE_PORT, edgeArgs, type EdgeOptions, type Site } from '../test/fixtures/lab.js'

export { COMMUNITY, EdgeProcess, LabProcess, NatLab, TAP, waitFor, type EdgeOptions, type Site } from '../test/fixtures/lab.js'

// dist-bench/benchmarks/lab-harness.js → the repository root
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = join(ROOT, 'bin/overlan.js')
const COMMAND_TIMEOUT_MS = 15_000
/** /proc/<pid>/stat counts CPU time in clock ticks: USER_HZ, 100 on every Linux architecture node runs on */
const CLOCK_TICKS_PER_SECOND = 100

export interface TrackedResult {
  stdout: string
  stderr: string
  /** exit code; null when it was killed (at the time limit) */
  code: number | null
}

/**
 * Runs a command in `ns` to its end (killed by PID after `timeoutMs`) and returns its output.
 * Unlike lab.exec(), the process is one of the lab's while it runs, so that the synchronous
 * cleanup at exit or Ctrl-C ends it too.
 */
export async function runIn(lab: NatLab, ns: string, command: string, args: string[], timeoutMs: number): Promise<TrackedResult> {
  const child = lab.netns.spawn(ns, command, args, { env: cleanEnv() })
  const tracked = new LabProcess(`${command} ${args.join(' ')}`, child, lab.started)
  lab.processes.push(tracked)
  // 'close' comes once the process exited and its output streams ended (or it failed to start)
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()))
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')))
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const exit = await tracked.exited
  clearTimeout(timer)
  await Promise.race([closed, sleep(2_000)])
  const i = lab.processes.indexOf(tracked)
  if (i !== -1) lab.processes.splice(i, 1)
  return { stdout, stderr, code: exit.code }
}

/** Children get PATH only (as in the tests): nothing of this process's environment follows them. */
function cleanEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' }
}

/** The lab, with the CLI at the repository root and node flags for the edges. */
export class BenchLab extends NatLab {
  override async startSupernode(nodeArgs: string[] = [], extraArgs: string[] = []): Promise<LabProcess> {
    const child = this.netns.spawn(this.supernodeNs, process.execPath, [...nodeArgs, BIN, 'supernode', '-p', String(SUPERNODE_PORT), '--mgmt', '127.0.0.1:5645', ...extraArgs], { env: cleanEnv() })
    const sn = new LabProcess(`supernode#${this.processes.filter((p) => p.label.startsWith('supernode')).length + 1}`, child, this.started)
    this.processes.push(sn)
    this.supernode = sn
    if ((await sn.waitForLine(/supernode listening/, COMMAND_TIMEOUT_MS)) === null) throw new Error(`the supernode did not start:\n${sn.lines.join('\n')}`)
    return sn
  }

  /** `overlan edge …` in `site`'s namespace (as the fixture does), `nodeArgs` before the script. */
  override startEdge(site: Site, options: EdgeOptions, label = site.label, nodeArgs: string[] = []): EdgeProcess {
    const child = this.netns.spawn(site.ns, process.execPath, [...nodeArgs, BIN, ...edgeArgs(options)], { env: this.edgeEnv(options) })
    const edge = new EdgeProcess(label, child, this.started, site, options, this)
    this.processes.push(edge)
    return edge
  }
}

/**
 * Builds a lab (the internet router and the supernode's namespace), runs `body`, and removes
 * everything in a finally. On failure the lab's diagnostics go to stderr first. Should this
 * process end meanwhile (exit, Ctrl-C, SIGTERM), the processes are killed by PID and the
 * namespaces deleted synchronously.
 */
export async function withLab<T>(body: (lab: BenchLab) => Promise<T>): Promise<T> {
  assertCliBuilt()
  const lab = new BenchLab()
  const onExit = (): void => lab.emergencyCleanup()
  const onSignal = (signal: NodeJS.Signals): void => {
    lab.emergencyCleanup()
    process.exit(signal === 'SIGINT' ? 130 : 143)
  }
  process.once('exit', onExit)
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    await lab.buildInternet()
    return await body(lab)
  } catch (err) {
    for (const block of await lab.diagnostics().catch(() => [])) process.stderr.write(block + '\n')
    throw err
  } finally {
    // stop the overlan processes politely first (they remove their TAP devices), then everything
    await Promise.all(lab.processes.filter((p) => p.running).map((p) => p.stop('SIGTERM', 3_000)))
    await lab.cleanup()
    process.off('exit', onExit)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

/** The edges run dist/ through bin/overlan.js: it must be there, and not older than src/. */
function assertCliBuilt(): void {
  const main = join(ROOT, 'dist/cli/main.js')
  if (!existsSync(main)) throw new Error('dist/ is not built: run `npm run build` first (the lab runs the real CLI)')
  const built = statSync(main).mtimeMs
  const newer = newestTs(join(ROOT, 'src'))
  if (newer.mtimeMs > built + 1_000) process.stderr.write(`### warning: ${newer.path} is newer than dist/: the lab measures the last build (npm run build)\n`)
}

function newestTs(dir: string, depth = 0): { path: string; mtimeMs: number } {
  let newest = { path: '', mtimeMs: 0 }
  if (depth > 4) return newest
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory() && entry.name !== 'native') {
      const inner = newestTs(path, depth + 1)
      if (inner.mtimeMs > newest.mtimeMs) newest = inner
    } else if (entry.isFile() && entry.name.endsWith('.ts')) {
      const mtimeMs = statSync(path).mtimeMs
      if (mtimeMs > newest.mtimeMs) newest = { path, mtimeMs }
    }
  }
  return newest
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // the command name (field 2) may hold spaces and parentheses: count fields after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields 14 and 15 of the whole line (utime, stime) are 12 and 13 after the name and state
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
}

/**
 * The machine's CPU time so far, all cores, from /proc/stat, in clock ticks: busy (user, system,
 * interrupts), idle (with I/O wait) and steal (taken by the hypervisor: neither ours nor idle).
 */
export function machineCpu(): { busy: number; idle: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is in user)
  const field = line.trim().split(/\s+/).slice(1, 9).map(Number)
  const at = (i: number): number => field[i] ?? 0
  return { busy: at(0) + at(1) + at(2) + at(5) + at(6), idle: at(3) + at(4), steal: at(7) }
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
