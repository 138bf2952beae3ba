// The TLS fallback, root only (issue 15): two `overlan edge` processes behind cone NATs, a
// supernode with its WebSocket over TLS on 443 (a CA made here with openssl). The device's NAT
// router drops all UDP (`iptables -I FORWARD -p udp -j DROP`): time from the device's edge being up
// ("edge … on ovl0") to registered over TLS (target ≤ 3 s; UDP's head start is 1 s of it); then
// iperf3 TCP technician → device through the relay, the device on TLS, against the same through the
// UDP relay in the same run (the rule removed, both edges --relay-only), target ≥ 0.5 of it.
import { makePrivateCa } from '../../test/fixtures/private-ca.js'
import { SUPERNODE_FALLBACK_URL, SUPERNODE_IP, tlsSupernodeArgs } from '../../test/fixtures/lab.js'
import { summarize, withBaseline, type Figure } from '../measure.js'
import { runIn, waitFor, withLab, type BenchLab, type EdgeProcess, type Site } from '../lab-harness.js'

const RUNS = 3
const SECONDS = 8
const IP_DEVICE = '10.9.0.1'
const IP_TECH = '10.9.0.2'
const READY_MS = 15_000
const REGISTERED_LINE = /registered with supernode/
const UDP = ['-p', 'udp']

interface IperfJson {
  end?: { sum_received?: { bits_per_second?: number }; sum_sent?: { retransmits?: number } }
  error?: string
}

/** iperf3 TCP from `client` to `server`'s overlay `target`, `seconds` long: the receiver's Mbit/s and the sender's retransmits. */
async function tcp(lab: BenchLab, server: Site, client: Site, target: string, seconds: number): Promise<{ mbits: number; retransmits: number }> {
  const listener = lab.spawn(`iperf3 -s (${target})`, server.ns, 'iperf3', ['-s', '-1', '--forceflush'])
  try {
    if ((await listener.waitForLine(/Server listening/, 10_000)) === null) throw new Error(`iperf3 -s did not start:\n${listener.lines.join('\n')}`)
    const r = await runIn(lab, client.ns, 'iperf3', ['-c', target, '-t', String(seconds), '-J', '--connect-timeout', '5000'], (seconds + 30) * 1000)
    const json = JSON.parse(r.stdout || '{}') as IperfJson
    if (r.code !== 0 || json.error !== undefined) throw new Error(`iperf3 to ${target} failed (exit ${r.code}): ${json.error ?? r.stderr.trim()}`)
    return { mbits: (json.end?.sum_received?.bits_per_second ?? 0) / 1e6, retransmits: json.end?.sum_sent?.retransmits ?? 0 }
  } finally {
    await listener.stop('SIGTERM', 3_000)
  }
}

async function reachable(lab: BenchLab, from: EdgeProcess, to: EdgeProcess): Promise<void> {
  if (!(await lab.firstReply(from.site.ns, to.ip, READY_MS)).ok) throw new Error(`${from.label} does not ping ${to.label} within ${READY_MS} ms`)
}

async function transportOf(edge: EdgeProcess): Promise<string | undefined> {
  return (await edge.tryStatus())?.supernodes[0]?.transport
}

export async function fallbackSection(): Promise<Figure[]> {
  const cleanups: (() => void)[] = []
  const ca = makePrivateCa({ teardown: (fn) => cleanups.push(fn) }, [SUPERNODE_IP])
  try {
    return await withLab(async (lab) => {
      const deviceSite = await lab.addNatSite('cone')
      const techSite = await lab.addNatSite('cone')
      await lab.startSupernode([], tlsSupernodeArgs(ca))
      const tech = lab.startEdge(techSite, { address: `${IP_TECH}/24`, relayOnly: true }, 'tech')
      if (!(await tech.waitRegistered(READY_MS)).ok) throw new Error('the technician did not register')

      // ---- UDP blocked: registration time, then TCP over the TLS relay ----
      const registerMs: number[] = []
      const edgeQueueDrops: number[] = []
      const tlsRuns: { mbits: number; retransmits: number }[] = []
      await lab.dropForward(deviceSite, UDP)
      for (let run = 0; run < RUNS; run++) {
        const device = lab.startEdge(deviceSite, { address: `${IP_DEVICE}/24`, relayOnly: true, fallback: SUPERNODE_FALLBACK_URL, caFile: ca.caFile }, `device (UDP blocked) #${run + 1}`)
        if ((await device.waitForLine(REGISTERED_LINE, READY_MS)) === null) throw new Error(`the device did not register:\n${device.lines.join('\n')}`)
        registerMs.push(device.lineTime(REGISTERED_LINE)! - (device.upAt ?? device.startedAt))
        const transport = await waitFor('transport known', () => transportOf(device), 5_000)
        if (transport.value !== 'tls') throw new Error(`the device registered over ${transport.value}, not tls`)
        await reachable(lab, tech, device)
        tlsRuns.push(await tcp(lab, deviceSite, techSite, IP_DEVICE, SECONDS))
        // where TCP's losses came from: the edge's bounded send queue, or the supernode's toward it
        const drops = (await device.status()).drops
        edgeQueueDrops.push(drops['fallback-queue-full'])
        await device.stop()
      }
      await lab.allowForward(deviceSite, UDP)
      interface SupernodeWs {
        websocket?: { refused?: Record<string, number> }
      }
      const refused = (await lab.getJson<SupernodeWs>(lab.supernodeNs, 'http://127.0.0.1:5645/status')).websocket?.refused ?? {}
      const supernodeDrops = Object.entries(refused).filter(([, n]) => n > 0).map(([why, n]) => `${why} ${n}`).join(', ') || 'none'

      // ---- the same through the UDP relay ----
      const device = lab.startEdge(deviceSite, { address: `${IP_DEVICE}/24`, relayOnly: true }, 'device (UDP)')
      if (!(await device.waitRegistered(READY_MS)).ok) throw new Error('the device did not register over UDP')
      await reachable(lab, tech, device)
      const udpRuns: { mbits: number; retransmits: number }[] = []
      for (let run = 0; run < RUNS; run++) udpRuns.push(await tcp(lab, deviceSite, techSite, IP_DEVICE, SECONDS))
      await Promise.all([device.stop(), tech.stop()])

      const retransmits = (runs: { retransmits: number }[]): string => `retransmits ${runs.map((r) => r.retransmits).join(' / ')}`
      const register = summarize('edge up → registered over TLS, UDP dropped at its NAT', 'ms', registerMs, { note: `runs ${registerMs.join(' / ')} ms; UDP's head start is 1,000 ms of it` })
      const udpRelay = summarize('overlay TCP through the UDP relay (both --relay-only), iperf3 8 s', 'Mbit/s', udpRuns.map((r) => r.mbits), { note: retransmits(udpRuns) })
      const tlsRelay = withBaseline(summarize('overlay TCP, technician on UDP → device on the TLS fallback, through the relay, iperf3 8 s', 'Mbit/s', tlsRuns.map((r) => r.mbits), { note: `${retransmits(tlsRuns)}; frames dropped by the device's send queue ${edgeQueueDrops.join(' / ')}; the supernode's WebSocket drops: ${supernodeDrops}` }), udpRelay, { ratio: 0.5 })
      return [{ ...register, target: '≤ 3,000 ms', met: register.median <= 3000 }, udpRelay, tlsRelay]
    })
  } finally {
    for (const fn of cleanups) fn()
  }
}
