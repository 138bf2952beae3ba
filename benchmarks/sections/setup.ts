// Set-up time, root only: two `overlan edge` processes behind two cone NATs (Linux MASQUERADE),
// a fresh lab each time, 5 times. From the edge processes' start: the "edge … on ovl0" log line
// (node start-up, module loading, Argon2id key derivation, TAP and socket); the first ping from A
// to B's overlay address that is answered (`ping -c 1 -W 0.2`, again at once); `direct` on both
// sides in /status (polled every 20 ms once the first ping passed, and checked against the edges'
// own "path direct" log lines). Targets: first ping ≤ 1 s, direct ≤ 2 s.
import { summarize, type Figure } from '../measure.js'
import { runIn, sleep, waitFor, withLab, type BenchLab, type EdgeProcess } from '../lab-harness.js'

const RUNS = 5
const IP_A = '10.9.0.1'
const IP_B = '10.9.0.2'
/** Each wait gives up after this (the targets are 1 and 2 s: this is a hang, not a slow run). */
const GIVE_UP_MS = 15_000
/** A ping that failed at once (no TAP or address yet) is tried again after this. */
const QUICK_FAILURE_PAUSE_MS = 10
const STATUS_POLL_MS = 20
const UP_LINE = /info edge [0-9a-f]+ on /
const REGISTERED_LINE = /registered with supernode/
const DIRECT_LINE = /path direct/

interface SetupRun {
  /** per edge: process start → "edge … on ovl0" */
  upMs: number[]
  registeredMs: number
  firstPingMs: number
  directMs: number
  directLoggedMs: number
  pingAttempts: number
  /** frames edge A read from its TAP before it was registered, dropped ('no-supernode') */
  droppedUnregistered: number
}

/** `ping -c 1 -W 0.2` from A to B, again and again (bounded); when the first answer came. */
async function firstPing(lab: BenchLab, a: EdgeProcess, b: EdgeProcess): Promise<{ at: number; attempts: number }> {
  const deadline = Date.now() + GIVE_UP_MS
  let attempts = 0
  while (Date.now() < deadline && attempts < 5_000) {
    attempts++
    const started = Date.now()
    const r = await runIn(lab, a.site.ns, 'ping', ['-4', '-n', '-c', '1', '-W', '0.2', b.ip], 3_000)
    if (r.code === 0) return { at: Date.now(), attempts }
    if (!a.running || !b.running) break
    if (Date.now() - started < 100) await sleep(QUICK_FAILURE_PAUSE_MS)
  }
  throw new Error(`no ping from A to B within ${GIVE_UP_MS} ms (${attempts} tries)`)
}

/** Edge B, started and registered with the supernode. */
async function registeredEdge(lab: BenchLab, site: Parameters<BenchLab['startEdge']>[0]): Promise<EdgeProcess> {
  const b = lab.startEdge(site, { address: `${IP_B}/24` }, 'B')
  const up = await waitFor('B registered', () => Promise.resolve(b.lineTime(REGISTERED_LINE) !== undefined ? true : undefined), GIVE_UP_MS, STATUS_POLL_MS)
  if (!up.ok) throw new Error(`B did not register within ${GIVE_UP_MS} ms:\n${b.lines.join('\n')}`)
  return b
}

/**
 * `together`: both edges started at once (the two spawns are a few ms apart), timed from the later.
 * `peer-running`: B is up and registered first and A is timed alone, as a technician joins a
 * device that runs already. On a 2-core machine the first is also a CPU contest: each edge's start
 * keeps two threads busy (its own, and Argon2id's on the thread pool), two edges four.
 */
async function oneRun(mode: 'together' | 'peer-running'): Promise<SetupRun> {
  return withLab(async (lab) => {
    const siteA = await lab.addNatSite('cone')
    const siteB = await lab.addNatSite('cone')
    await lab.startSupernode()
    const running = mode === 'peer-running' ? await registeredEdge(lab, siteB) : null
    const a = lab.startEdge(siteA, { address: `${IP_A}/24` }, 'A')
    const b = running ?? lab.startEdge(siteB, { address: `${IP_B}/24` }, 'B')
    const start = Math.max(a.startedAt, b.startedAt)
    const ping = await firstPing(lab, a, b)
    const direct = await waitFor('both direct', async () => {
      const [ab, ba] = await Promise.all([a.pathTo(b.ip), b.pathTo(a.ip)])
      return ab === 'direct' && ba === 'direct' ? Date.now() : undefined
    }, GIVE_UP_MS, STATUS_POLL_MS)
    if (!direct.ok) throw new Error(`not direct on both sides within ${GIVE_UP_MS} ms of the first ping: A → B ${await a.pathTo(b.ip)}, B → A ${await b.pathTo(a.ip)}`)
    const droppedUnregistered = (await a.status()).drops['no-supernode']
    const after = (pattern: RegExp, edge: EdgeProcess): number => {
      const at = edge.lineTime(pattern)
      if (at === undefined) throw new Error(`${edge.label} never logged ${pattern}:\n${edge.lines.join('\n')}`)
      return at
    }
    const run: SetupRun = {
      upMs: [after(UP_LINE, a) - a.startedAt, after(UP_LINE, b) - b.startedAt],
      registeredMs: Math.max(after(REGISTERED_LINE, a), after(REGISTERED_LINE, b)) - start,
      firstPingMs: ping.at - start,
      directMs: direct.value! - start,
      directLoggedMs: Math.max(after(DIRECT_LINE, a), after(DIRECT_LINE, b)) - start,
      pingAttempts: ping.attempts,
      droppedUnregistered,
    }
    await Promise.all([a.stop(), b.stop()])
    return run
  })
}

export async function setupSection(): Promise<Figure[]> {
  const figures: Figure[] = []
  for (const mode of ['together', 'peer-running'] as const) {
    const runs: SetupRun[] = []
    for (let i = 0; i < RUNS; i++) runs.push(await oneRun(mode))
    const col = (f: (r: SetupRun) => number): number[] => runs.map(f)
    const how = mode === 'together' ? 'both edges started at once' : 'A started, B already running'
    const firstPingNote = `runs ${col((r) => r.firstPingMs).join(' / ')} ms; pings ${col((r) => r.pingAttempts).join(' / ')}; frames A dropped before registering ${col((r) => r.droppedUnregistered).join(' / ')}`
    const firstPingFig = summarize(`edge start → first ping answered (cone / cone), ${how}`, 'ms', col((r) => r.firstPingMs), { note: firstPingNote })
    const directFig = summarize(`edge start → direct in both /status, ${how}`, 'ms', col((r) => r.directMs), { note: `"path direct" logged by both at ${col((r) => r.directLoggedMs).join(' / ')} ms` })
    figures.push(
      summarize(`edge start → "edge … on ovl0" logged (node start-up + key derivation), ${mode === 'together' ? 'both edges' : 'A'}`, 'ms', mode === 'together' ? runs.flatMap((r) => r.upMs) : col((r) => r.upMs[0]!)),
      summarize(`edge start → registered with the supernode, ${how}`, 'ms', col((r) => r.registeredMs)),
      { ...firstPingFig, target: '≤ 1,000 ms', met: firstPingFig.median <= 1000 },
      summarize(`registered → first ping answered, ${how}`, 'ms', col((r) => r.firstPingMs - r.registeredMs)),
      { ...directFig, target: '≤ 2,000 ms', met: directFig.median <= 2000 },
      summarize(`first ping → direct in both /status, ${how}`, 'ms', col((r) => r.directMs - r.firstPingMs)),
    )
  }
  return figures
}
