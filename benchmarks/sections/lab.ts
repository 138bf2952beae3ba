// The real thing, root only: two `overlan edge` processes in network namespaces on the lab's wan
// (public hosts, no NAT), a supernode beside them. iperf3 TCP over the overlay (8 s, B → A's
// overlay address) against the underlay between the same namespaces (iperf3 UDP, 1400-byte
// datagrams, unlimited rate: what the underlay carries in datagrams of the overlay's size; and
// plain TCP); ping RTT over the overlay against the underlay, and against a UDP echo between two
// node processes (the floor for anything that puts a node event loop on the path: an overlay RTT
// crosses four); CPU seconds of each edge process during a TCP run, per frame, and how busy the
// whole machine was; then the same through the relay (--relay-only on both edges). Targets:
// ≥ 1,000 Mbit/s TCP direct, ≥ 500 Mbit/s relayed, ≤ 0.15 ms RTT added (median).
// OVERLAN_BENCH_CPU_PROF=DIR: the edges run with node --cpu-prof and write their profiles there.
import { machineSpeed, summarize, withBaseline, type Figure } from '../measure.js'
import { cpuSeconds, machineCpu, runIn, sleep, waitFor, withLab, type BenchLab, type EdgeProcess, type LabProcess, type Site } from '../lab-harness.js'

const RUNS = 3
const SECONDS = 8
const WARM_UP_SECONDS = 2
const PINGS = 100
const IP_A = '10.9.0.1'
const IP_B = '10.9.0.2'
const READY_MS = 15_000

interface IperfJson {
  end?: {
    sum?: { bits_per_second?: number; lost_percent?: number }
    sum_sent?: { bits_per_second?: number; retransmits?: number }
    sum_received?: { bits_per_second?: number }
  }
  error?: string
}

interface IperfResult {
  mbits: number
  /** TCP: retransmits; UDP: lost % */
  retransmits?: number
  lostPercent?: number
}

/**
 * iperf3 from `client` to `server`'s `target` (a one-off server started for the run), `seconds`
 * long; TCP, or UDP with 1400-byte datagrams and no rate limit. The receiver's rate, in Mbit/s.
 */
export async function iperf(lab: BenchLab, server: Site, client: Site, target: string, mode: 'tcp' | 'udp', seconds: number): Promise<IperfResult> {
  const listener: LabProcess = lab.spawn(`iperf3 -s (${mode} ${target})`, server.ns, 'iperf3', ['-s', '-1', '--forceflush'])
  try {
    if ((await listener.waitForLine(/Server listening/, 10_000)) === null) throw new Error(`iperf3 -s did not start:\n${listener.lines.join('\n')}`)
    const args = ['-c', target, '-t', String(seconds), '-J', '--connect-timeout', '3000', ...(mode === 'udp' ? ['-u', '-b', '0', '-l', '1400'] : [])]
    const r = await runIn(lab, client.ns, 'iperf3', args, (seconds + 20) * 1000)
    let json: IperfJson
    try {
      json = JSON.parse(r.stdout) as IperfJson
    } catch {
      throw new Error(`iperf3 ${args.join(' ')}: no JSON (exit ${r.code}): ${r.stderr.trim()}`)
    }
    if (r.code !== 0 || json.error !== undefined) throw new Error(`iperf3 ${args.join(' ')} failed (exit ${r.code}): ${json.error ?? r.stderr.trim()}`)
    const end = json.end ?? {}
    if (mode === 'tcp') return { mbits: (end.sum_received?.bits_per_second ?? 0) / 1e6, retransmits: end.sum_sent?.retransmits }
    // UDP: sum_received is what the server got (iperf3 ≥ 3.10); older ones: sum is the receiver's view
    return { mbits: (end.sum_received?.bits_per_second ?? end.sum?.bits_per_second ?? 0) / 1e6, lostPercent: end.sum?.lost_percent }
  } finally {
    await listener.stop('SIGTERM', 3_000)
  }
}

/** `ping -c 100 -i 0.01` from `ns`; the median RTT in ms (and how many answered). */
async function pingMedian(lab: BenchLab, ns: string, target: string): Promise<{ medianMs: number; received: number }> {
  const r = await runIn(lab, ns, 'ping', ['-4', '-n', '-c', String(PINGS), '-i', '0.01', '-W', '1', target], 30_000)
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]))
  if (rtts.length < PINGS / 2) throw new Error(`ping ${target}: ${rtts.length}/${PINGS} answered:\n${r.stdout}${r.stderr}`)
  return { medianMs: summarize('', '', rtts).median, received: rtts.length }
}

// A UDP echo and a client that sends one datagram every 10 ms (as ping -i 0.01), PINGS times, and
// prints the median round trip in ms: what two node event loops cost, without any overlay.
const ECHO_PORT = 9999
const ECHO_JS = `const s = require('node:dgram').createSocket('udp4')
s.on('message', (m, r) => s.send(m, r.port, r.address))
s.bind(${ECHO_PORT}, () => console.log('echo listening'))`
const ECHO_CLIENT_JS = `const s = require('node:dgram').createSocket('udp4')
const [host, count] = [process.argv[1], Number(process.argv[2])]
const rtts = []
let sentAt = 0n
const send = () => { sentAt = process.hrtime.bigint(); s.send(Buffer.alloc(56), ${ECHO_PORT}, host) }
const give = setTimeout(() => { console.log(JSON.stringify({ rtts })); process.exit(0) }, 20000)
s.on('message', () => {
  rtts.push(Number(process.hrtime.bigint() - sentAt) / 1e6)
  if (rtts.length < count) setTimeout(send, 10)
  else { clearTimeout(give); console.log(JSON.stringify({ rtts })); process.exit(0) }
})
s.bind(0, send)`

/** Median RTT (ms) of a node UDP client in `client` against a node UDP echo in `server`, over the underlay. */
async function nodeEchoMedian(lab: BenchLab, server: Site, client: Site): Promise<number> {
  const r = await runIn(lab, client.ns, process.execPath, ['-e', ECHO_CLIENT_JS, server.ip, String(PINGS)], 30_000)
  let rtts: number[]
  try {
    rtts = (JSON.parse(r.stdout) as { rtts: number[] }).rtts
  } catch {
    throw new Error(`node UDP echo client failed (${r.code}): ${r.stderr.trim()}`)
  }
  if (rtts.length < PINGS) throw new Error(`node UDP echo: ${rtts.length}/${PINGS} answered`)
  return summarize('', '', rtts).median
}

/** Until A pings B over the overlay and both see the expected path. */
async function ready(lab: BenchLab, a: EdgeProcess, b: EdgeProcess, path: 'direct' | 'relay'): Promise<void> {
  const first = await lab.firstReply(a.site.ns, b.ip, READY_MS)
  if (!first.ok) throw new Error(`A does not ping B over the overlay within ${READY_MS} ms`)
  const both = await waitFor(`both ${path}`, async () => {
    const [ab, ba] = await Promise.all([a.pathTo(b.ip), b.pathTo(a.ip)])
    return ab === path && ba === path ? true : undefined
  }, READY_MS)
  if (!both.ok) throw new Error(`the path is not ${path} on both sides within ${READY_MS} ms: A → B ${await a.pathTo(b.ip)}, B → A ${await b.pathTo(a.ip)}`)
}

/** OVERLAN_BENCH_CPU_PROF=DIR: node flags that make an edge write its CPU profile into DIR at its exit. */
export function profArgs(): string[] {
  const dir = process.env.OVERLAN_BENCH_CPU_PROF
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []
}

interface OverlayRuns {
  tcp: IperfResult[]
  cpuA: number[]
  cpuB: number[]
  cpuSupernode: number[]
  /** CPU µs per frame (TAP in + TAP out) of each edge */
  usPerFrameA: number[]
  usPerFrameB: number[]
  /** % of the machine's CPU (all cores) busy during the run */
  machineBusy: number[]
  machineSteal: number[]
  /** the machine's speed around the run: machineSpeed() before and after, averaged */
  speed: number[]
  rtt: number[]
}

function newRuns(): OverlayRuns {
  return { tcp: [], cpuA: [], cpuB: [], cpuSupernode: [], usPerFrameA: [], usPerFrameB: [], machineBusy: [], machineSteal: [], speed: [], rtt: [] }
}

/** Frames through the edge's TAP device so far, both ways. */
async function tapFrames(edge: EdgeProcess): Promise<number> {
  const { counters } = await edge.status()
  return counters.tapFramesIn + counters.tapFramesOut
}

/**
 * RUNS × iperf3 TCP B → A's overlay address, with the CPU time of each edge (and the supernode),
 * per frame, and the whole machine's.
 */
async function overlayTcp(lab: BenchLab, a: EdgeProcess, b: EdgeProcess, runs: OverlayRuns, beforeEach: () => Promise<void>): Promise<void> {
  await iperf(lab, a.site, b.site, a.ip, 'tcp', WARM_UP_SECONDS)
  for (let run = 0; run < RUNS; run++) {
    await beforeEach()
    const pids = [a.pid!, b.pid!, lab.supernode!.pid!]
    const framesBefore = await Promise.all([tapFrames(a), tapFrames(b)])
    const speedBefore = machineSpeed()
    const before = pids.map(cpuSeconds)
    const machineBefore = machineCpu()
    runs.tcp.push(await iperf(lab, a.site, b.site, a.ip, 'tcp', SECONDS))
    const used = pids.map((pid, i) => cpuSeconds(pid) - before[i]!)
    const machineAfter = machineCpu()
    runs.speed.push((speedBefore + machineSpeed()) / 2)
    const frames = (await Promise.all([tapFrames(a), tapFrames(b)])).map((n, i) => n - framesBefore[i]!)
    runs.cpuA.push(used[0]!)
    runs.cpuB.push(used[1]!)
    runs.cpuSupernode.push(used[2]!)
    runs.usPerFrameA.push((used[0]! * 1e6) / frames[0]!)
    runs.usPerFrameB.push((used[1]! * 1e6) / frames[1]!)
    const busy = machineAfter.busy - machineBefore.busy
    const idle = machineAfter.idle - machineBefore.idle
    const steal = machineAfter.steal - machineBefore.steal
    runs.machineBusy.push((100 * busy) / (busy + idle))
    runs.machineSteal.push((100 * steal) / (busy + idle + steal))
  }
}

/** The CPU figures of one set of runs ('direct' or 'relayed'). */
function cpuFigures(runs: OverlayRuns, how: string): Figure[] {
  return [
    summarize(`CPU of edge A (receiver) per TCP run, ${how}`, 'CPU s / 8 s', runs.cpuA),
    summarize(`CPU of edge B (sender) per TCP run, ${how}`, 'CPU s / 8 s', runs.cpuB),
    summarize(`CPU of edge A (receiver) per frame through its TAP, ${how}`, 'µs', runs.usPerFrameA),
    summarize(`CPU of edge B (sender) per frame through its TAP, ${how}`, 'µs', runs.usPerFrameB),
    summarize(`machine CPU busy during the TCP run, ${how} (all cores)`, '%', runs.machineBusy, { note: `steal ${runs.machineSteal.map((s) => s.toFixed(1)).join(' / ')} %` }),
    summarize(`machine speed around each TCP run, ${how} (Ed25519 verifies/s in the benchmark's process)`, 'verifies/s', runs.speed, {
      note: `Mbit/s at verifies/s: ${runs.tcp.map((r, i) => `${r.mbits.toFixed(0)} at ${runs.speed[i]!.toFixed(0)}`).join(', ')}`,
    }),
  ]
}

function retransmitNote(results: IperfResult[]): string {
  return `retransmits ${results.map((r) => r.retransmits ?? '-').join(' / ')}`
}

export async function labSection(): Promise<Figure[]> {
  return withLab(async (lab) => {
    const siteA = await lab.addPublicHost()
    const siteB = await lab.addPublicHost()
    await lab.startSupernode()
    const figures: Figure[] = []

    // ---- direct: the underlay baselines interleaved with the overlay runs ----
    let a = lab.startEdge(siteA, { address: `${IP_A}/24` }, 'A', profArgs())
    let b = lab.startEdge(siteB, { address: `${IP_B}/24` }, 'B', profArgs())
    await ready(lab, a, b, 'direct')
    const udpUnder: IperfResult[] = []
    const tcpUnder: IperfResult[] = []
    const direct = newRuns()
    await iperf(lab, siteA, siteB, siteA.ip, 'udp', WARM_UP_SECONDS)
    await iperf(lab, siteA, siteB, siteA.ip, 'tcp', WARM_UP_SECONDS)
    await overlayTcp(lab, a, b, direct, async () => {
      udpUnder.push(await iperf(lab, siteA, siteB, siteA.ip, 'udp', SECONDS))
      tcpUnder.push(await iperf(lab, siteA, siteB, siteA.ip, 'tcp', SECONDS))
    })
    const rttUnder: number[] = []
    const rttNodeEcho: number[] = []
    const echo = lab.spawn('node UDP echo', siteA.ns, process.execPath, ['-e', ECHO_JS])
    if ((await echo.waitForLine(/echo listening/, 10_000)) === null) throw new Error(`the node UDP echo did not start:\n${echo.lines.join('\n')}`)
    for (let run = 0; run < RUNS; run++) {
      rttUnder.push((await pingMedian(lab, siteB.ns, siteA.ip)).medianMs)
      rttNodeEcho.push(await nodeEchoMedian(lab, siteA, siteB))
      direct.rtt.push((await pingMedian(lab, siteB.ns, a.ip)).medianMs)
    }
    await echo.stop()
    const stillDirect = (await b.pathTo(a.ip)) === 'direct'

    const udpFig = summarize('underlay UDP 1400 B, iperf3 -u -b 0 (receiver)', 'Mbit/s', udpUnder.map((r) => r.mbits), { note: `lost ${udpUnder.map((r) => (r.lostPercent ?? 0).toFixed(1)).join(' / ')} %` })
    const tcpUnderFig = summarize('underlay TCP, iperf3', 'Mbit/s', tcpUnder.map((r) => r.mbits), { note: retransmitNote(tcpUnder) })
    const tcpDirect = direct.tcp.map((r) => r.mbits)
    const directNote = `${retransmitNote(direct.tcp)}${stillDirect ? '' : '; the path was no longer direct afterwards'}`
    const tcpDirectFig = withBaseline(summarize('overlay TCP direct, iperf3 8 s', 'Mbit/s', tcpDirect, { note: directNote }), udpFig)
    figures.push(udpFig, tcpUnderFig, { ...tcpDirectFig, target: '≥ 1,000 Mbit/s', met: tcpDirectFig.median >= 1000 })
    figures.push(withBaseline(summarize('overlay TCP direct vs underlay TCP', 'Mbit/s', tcpDirect), tcpUnderFig))
    figures.push(...cpuFigures(direct, 'direct'))
    const rttUnderFig = summarize('underlay ping RTT, median of 100', 'ms', rttUnder)
    const rttNodeFig = withBaseline(summarize('node UDP echo RTT over the underlay (2 node processes), median of 100', 'ms', rttNodeEcho), rttUnderFig)
    figures.push(rttUnderFig, rttNodeFig, withBaseline(summarize('overlay ping RTT direct, median of 100', 'ms', direct.rtt), rttUnderFig))
    figures.push(summarize('RTT added by one node event loop on the path (node echo − ping) / 2', 'ms', rttNodeEcho.map((r, i) => (r - rttUnder[i]!) / 2)))
    const addedDirect = direct.rtt.map((r, i) => r - rttUnder[i]!)
    const addedDirectFig = summarize('RTT added by the overlay, direct', 'ms', addedDirect)
    figures.push({ ...addedDirectFig, target: '≤ 0.15 ms', met: addedDirectFig.median <= 0.15 })

    // ---- relayed: both edges --relay-only, through the supernode ----
    await Promise.all([a.stop(), b.stop()])
    a = lab.startEdge(siteA, { address: `${IP_A}/24`, relayOnly: true }, 'A relay-only', profArgs())
    b = lab.startEdge(siteB, { address: `${IP_B}/24`, relayOnly: true }, 'B relay-only', profArgs())
    await ready(lab, a, b, 'relay')
    const relayed = newRuns()
    await overlayTcp(lab, a, b, relayed, () => sleep(200))
    for (let run = 0; run < RUNS; run++) relayed.rtt.push((await pingMedian(lab, siteB.ns, a.ip)).medianMs)
    const tcpRelayFig = withBaseline(summarize('overlay TCP relayed, iperf3 8 s', 'Mbit/s', relayed.tcp.map((r) => r.mbits), { note: retransmitNote(relayed.tcp) }), tcpDirectFig)
    figures.push({ ...tcpRelayFig, target: '≥ 500 Mbit/s', met: tcpRelayFig.median >= 500 })
    figures.push(...cpuFigures(relayed, 'relayed'))
    figures.push(summarize('CPU of the supernode per TCP run, relayed', 'CPU s / 8 s', relayed.cpuSupernode))
    figures.push(withBaseline(summarize('overlay ping RTT relayed, median of 100', 'ms', relayed.rtt), rttUnderFig))
    figures.push(summarize('RTT added by the overlay, relayed', 'ms', relayed.rtt.map((r, i) => r - rttUnder[i]!)))
    await Promise.all([a.stop(), b.stop()])
    return figures
  })
}
