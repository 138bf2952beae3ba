// Userspace streams (issue 16), root only: a device's TAP edge and a technician on two public hosts.
// First the technician as a TAP edge: iperf3 TCP to the device's overlay address (the baseline, in
// this run). Then the technician as `overlan edge --userspace --forward 5201:5201 --forward 8080:8080`:
// the time from its start to the first byte a forward carries from the device (target ≤ 2 s), and
// iperf3 TCP through the forward over the direct path (target ≥ 100 Mbit/s), as a ratio to the TAP's.
// OVERLAN_BENCH_CPU_PROF=DIR: the device and the userspace technician write CPU profiles there.
import { fileURLToPath } from 'node:url'
import { summarize, withBaseline, type Figure } from '../measure.js'
import type { LabEdgeStatus } from '../../test/fixtures/lab.js'
import { cpuSeconds, runIn, waitFor, withLab, type BenchLab, type LabProcess, type Site } from '../lab-harness.js'
import { iperf, profArgs } from './lab.js'

/** OVERLAN_BENCH_SMOKE=1: one short run of each, to see that the section works (not a measurement) */
const SMOKE = process.env.OVERLAN_BENCH_SMOKE === '1'
const RUNS = SMOKE ? 1 : 3
const SECONDS = SMOKE ? 2 : 8
const IP_DEVICE = '10.9.0.1'
const IP_TECH = '10.9.0.2'
/** another address than the TAP technician's: the device may hold that one's peer a while after it left */
const IP_USERSPACE = '10.9.0.3'
const READY_MS = 20_000
const IPERF_PORT = 5201
const GREETING_PORT = 8080
// dist-bench/benchmarks/sections/userspace.js → the repository root
const BIN = fileURLToPath(new URL('../../../bin/overlan.js', import.meta.url))
/** connects to 127.0.0.1:PORT every 20 ms until a byte arrives; prints the time it arrived (ms since the epoch) */
const FIRST_BYTE_JS = `
const net = require('node:net'); const port = Number(process.argv[1]); const until = Date.now() + 30000
const attempt = () => { const s = net.connect(port, '127.0.0.1'); s.once('data', () => { console.log(Date.now()); process.exit(0) })
  s.once('error', () => { s.destroy(); if (Date.now() > until) process.exit(1); setTimeout(attempt, 20) })
  s.once('end', () => { if (Date.now() > until) process.exit(1); setTimeout(attempt, 20) }) }
attempt()`

interface Runs {
  mbits: number[]
  /** CPU time of the sending edge (the technician's) and of the receiving one (the device's) per megabyte iperf3 carried */
  senderMsPerMB: number[]
  receiverMsPerMB: number[]
}

/** RUNS iperf3 TCP runs from the technician's site to `target` (the device, or a forward on 127.0.0.1), with each edge's CPU time. */
async function measuredRuns(lab: BenchLab, deviceSite: Site, techSite: Site, target: string, sender: LabProcess, receiver: LabProcess): Promise<Runs> {
  const runs: Runs = { mbits: [], senderMsPerMB: [], receiverMsPerMB: [] }
  const pids = [sender.pid, receiver.pid]
  if (pids.some((pid) => pid === undefined)) throw new Error('an edge has no PID')
  for (let run = 0; run < RUNS; run++) {
    const before = pids.map((pid) => cpuSeconds(pid!))
    const { mbits } = await iperf(lab, deviceSite, techSite, target, 'tcp', SECONDS)
    const [sender, receiver] = pids.map((pid, i) => cpuSeconds(pid!) - before[i]!)
    const megabytes = (mbits * SECONDS) / 8
    runs.mbits.push(mbits)
    runs.senderMsPerMB.push((sender! * 1000) / megabytes)
    runs.receiverMsPerMB.push((receiver! * 1000) / megabytes)
  }
  return runs
}

export async function userspaceSection(): Promise<Figure[]> {
  return withLab(async (lab) => {
    const deviceSite = await lab.addPublicHost()
    const techSite = await lab.addPublicHost()
    await lab.startSupernode()
    await lab.tcpListen(deviceSite.ns, GREETING_PORT)
    const device = lab.startEdge(deviceSite, { address: `${IP_DEVICE}/24`, name: 'device', extraArgs: ['--accept-streams'] }, 'device', profArgs())
    if (!(await device.waitRegistered(READY_MS)).ok) throw new Error('the device did not register')

    // ---- the baseline: the technician on a TAP device ----
    const tapTech = lab.startEdge(techSite, { address: `${IP_TECH}/24`, name: 'technician (TAP)' }, 'technician (TAP)')
    if (!(await tapTech.waitRegistered(READY_MS)).ok) throw new Error('the TAP technician did not register')
    if (!(await lab.firstReply(techSite.ns, IP_DEVICE, READY_MS)).ok) throw new Error('the TAP technician does not reach the device')
    const direct = await waitFor('direct', async () => ((await tapTech.pathTo(IP_DEVICE)) === 'direct' ? true : undefined), READY_MS)
    if (!direct.ok) throw new Error('the TAP technician did not go direct')
    const tapRuns = await measuredRuns(lab, deviceSite, techSite, IP_DEVICE, tapTech, device)
    await tapTech.stop()

    // ---- the technician on --userspace ----
    const args = ['edge', '-c', 'lab', '-l', '203.0.113.10:7654', '-a', `${IP_USERSPACE}/24`, '--name', 'technician (userspace)', '--mgmt', '127.0.0.1:5644']
    args.push('--userspace', '--target', IP_DEVICE, '--forward', `${IPERF_PORT}:${IPERF_PORT}`, '--forward', `${GREETING_PORT}:${GREETING_PORT}`)
    const startedAt = Date.now()
    const tech = lab.spawn('technician (userspace)', techSite.ns, process.execPath, [...profArgs(), BIN, ...args], lab.edgeEnv({ address: '' }))
    const first = await runIn(lab, techSite.ns, process.execPath, ['-e', FIRST_BYTE_JS, String(GREETING_PORT)], 40_000)
    if (first.code !== 0) throw new Error(`no byte through the forward within 30 s:\n${tech.lines.join('\n')}`)
    const firstByteMs = Number(first.stdout.trim()) - startedAt
    const registeredAt = tech.lineTime(/registered with supernode/)
    const afterRegistration = registeredAt === undefined ? null : Number(first.stdout.trim()) - registeredAt
    const path = await waitFor('direct', async () => {
      const status = await lab.getJson<LabEdgeStatus>(techSite.ns, 'http://127.0.0.1:5644/status').catch(() => undefined)
      return status?.peers.find((p) => p.ip === IP_DEVICE)?.path === 'direct' ? true : undefined
    }, READY_MS)
    const forwardRuns = await measuredRuns(lab, deviceSite, techSite, '127.0.0.1', tech, device)
    await tech.stop('SIGTERM', 3_000)
    await device.stop()

    const tapFig = summarize(`overlay TCP, technician on a TAP, direct, iperf3 ${SECONDS} s`, 'Mbit/s', tapRuns.mbits)
    const forwardFig = withBaseline(summarize(`TCP through --userspace --forward, ${path.ok ? 'direct' : 'NOT direct'}, iperf3 ${SECONDS} s`, 'Mbit/s', forwardRuns.mbits), tapFig)
    const startFig = summarize('--userspace start → first byte through a forward', 'ms', [firstByteMs], { note: afterRegistration === null ? undefined : `${afterRegistration} ms after its registration` })
    // CPU per megabyte carried is far steadier than Mbit/s on a shared machine: it says what each edge spends, not what it was given
    const cpu = [
      summarize('CPU per MB, technician on a TAP (sender)', 'CPU ms/MB', tapRuns.senderMsPerMB),
      summarize('CPU per MB, device, from the TAP technician', 'CPU ms/MB', tapRuns.receiverMsPerMB),
      summarize('CPU per MB, userspace technician (sender)', 'CPU ms/MB', forwardRuns.senderMsPerMB),
      summarize('CPU per MB, device, from the userspace technician', 'CPU ms/MB', forwardRuns.receiverMsPerMB),
    ]
    return [tapFig, { ...forwardFig, target: '≥ 100 Mbit/s', met: forwardFig.median >= 100 }, { ...startFig, target: '≤ 2,000 ms after admission', met: (afterRegistration ?? firstByteMs) <= 2000 }, ...cpu]
  })
}
