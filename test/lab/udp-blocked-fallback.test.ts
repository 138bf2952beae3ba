// A customer network that blocks UDP: `iptables -I FORWARD -p udp -j DROP` in the device's NAT
// router. The device's edge (the real CLI, --fallback wss://203.0.113.10/overlan with a CA the test
// made) is registered over TLS within 3 s of starting; a technician's edge on UDP pings it through
// the relay with < 1 % loss and runs iperf3; /status says tls. The rule removed: the device is back
// on UDP, then direct with the technician (both NATs are cone), within 35 s, and pings never stop
// for more than 2 s meanwhile. And: the same through an HTTP CONNECT proxy (tinyproxy, Basic auth)
// on a network that reaches the supernode only through it.
import t from 'tap'
import { natLab, SUPERNODE_FALLBACK_URL, SUPERNODE_IP, SUPERNODE_TLS_PORT, tlsSupernodeArgs, waitFor, type EdgeProcess, type LabEdgeStatus } from '../fixtures/lab.js'
import { makePrivateCa } from '../fixtures/private-ca.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'
import { startTinyproxy, tinyproxyInstalled } from '../fixtures/tinyproxy.js'

const REGISTERED_OVER_TLS_MS = 3_000
const BACK_ON_UDP_MS = 35_000
/** back on UDP → direct both ways (the relay's own retry would be up to PUNCH_RETRY_MS, 30 s) */
const DIRECT_AFTER_UDP_MS = 5_000
const LONGEST_PING_GAP_MS = 2_000
const REGISTERED = /registered with supernode/

function supernodeOf(status: LabEdgeStatus | undefined): LabEdgeStatus['supernodes'][number] | undefined {
  return status?.supernodes[0]
}

/** ms from the edge logging that it runs to its first registration, and from spawning it. */
async function registrationTimes(edge: EdgeProcess): Promise<{ fromUp: number; fromSpawn: number } | null> {
  if ((await edge.waitForLine(REGISTERED, 20_000)) === null) return null
  const at = edge.lineTime(REGISTERED)!
  return { fromUp: at - (edge.upAt ?? edge.startedAt), fromSpawn: at - edge.startedAt }
}

/** The longest time between two consecutive replies (ms), and the replies missing. */
function gaps(replies: Map<number, number>, transmitted: number): { longestMs: number; lost: number } {
  const times = [...replies.entries()].sort((a, b) => a[0] - b[0]).map(([, at]) => at)
  let longestMs = 0
  for (let i = 1; i < times.length; i++) longestMs = Math.max(longestMs, times[i]! - times[i - 1]!)
  return { longestMs, lost: transmitted - replies.size }
}

t.test('UDP dropped at the device NAT: TLS within 3 s, relayed pings and iperf3, then back on UDP and direct without a gap over 2 s', async (t) => {
  if (skipUnlessRoot(t, 'an edge behind a UDP-blocking NAT falls back to TLS and moves back')) return
  const ca = makePrivateCa(t, [SUPERNODE_IP])
  const lab = await natLab(t)
  const deviceSite = await lab.addNatSite('cone')
  const techSite = await lab.addNatSite('cone')
  await lab.startSupernode(tlsSupernodeArgs(ca))
  const UDP = ['-p', 'udp']
  await lab.dropForward(deviceSite, UDP)

  const tech = lab.startEdge(techSite, { address: '10.9.0.2/24', name: 'tech' })
  t.ok((await tech.waitRegistered(20_000)).ok, 'the technician registered over UDP')
  const device = lab.startEdge(deviceSite, { address: '10.9.0.1/24', name: 'device', fallback: SUPERNODE_FALLBACK_URL, caFile: ca.caFile })
  const times = await registrationTimes(device)
  t.ok(times !== null, 'the device registered')
  t.comment(`registered over the fallback ${times?.fromUp} ms after the edge was up (${times?.fromSpawn} ms after spawning, node start-up and Argon2id included)`)
  t.ok(times !== null && times.fromUp <= REGISTERED_OVER_TLS_MS, `within ${REGISTERED_OVER_TLS_MS} ms of the edge starting (${times?.fromUp} ms)`)
  const onTls = supernodeOf(await device.status())
  t.equal(onTls?.transport, 'tls', "the device's /status says tls")
  t.equal(onTls?.port, SUPERNODE_TLS_PORT)

  t.ok((await lab.firstReply(techSite.ns, device.ip, 15_000)).ok, 'the technician reaches the device')
  const relayed = await lab.pingSeries(techSite.ns, device.ip, 200, 50)
  const relayedLoss = (relayed.transmitted - relayed.replies.size) / Math.max(1, relayed.transmitted)
  t.comment(`200 pings 50 ms apart through the relay over TLS: ${relayed.replies.size}/${relayed.transmitted} answered, median RTT ${[...relayed.rttsMs].sort((a, b) => a - b)[Math.floor(relayed.rttsMs.length / 2)]} ms`)
  t.ok(relayed.transmitted === 200 && relayedLoss < 0.01, `loss below 1 % (${(relayedLoss * 100).toFixed(1)} %)`)
  const seen = (await device.status()).peers.find((p) => p.ip === tech.ip)
  t.not(seen?.path, 'direct', `no direct path while UDP is blocked (${seen?.path})`)
  t.equal(seen?.via, 'tls', 'the device reaches the technician over the relay, by TLS')

  const iperf = await lab.iperf3(techSite.ns, deviceSite.ns, device.ip, 3)
  t.comment(`iperf3 TCP technician → device through the TLS relay: ${iperf.mbits.toFixed(1)} Mbit/s, ${iperf.retransmits ?? '-'} retransmits`)
  t.ok(iperf.ok && iperf.mbits > 0, `iperf3 runs over the TLS relay${iperf.error ? ` (${iperf.error})` : ''}`)

  // pings 100 ms apart while the rule goes and the edge moves back
  const pinging = lab.pingSeries(techSite.ns, device.ip, 450, 100)
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  await lab.allowForward(deviceSite, UDP)
  const removedAt = Date.now()
  const onUdp = await waitFor('the device back on UDP', async () => (supernodeOf(await device.tryStatus())?.transport === 'udp' ? true : undefined), BACK_ON_UDP_MS + 5_000)
  t.ok(onUdp.ok && onUdp.ms <= BACK_ON_UDP_MS, `back on UDP ${onUdp.ms} ms after the rule was removed`)
  const direct = await waitFor('direct both ways', async () => {
    const [a, b] = await Promise.all([device.pathToEdge(tech), tech.pathToEdge(device)])
    return a === 'direct' && b === 'direct' ? true : undefined
  }, BACK_ON_UDP_MS + 5_000)
  const directMs = Date.now() - removedAt
  t.ok(direct.ok && directMs <= BACK_ON_UDP_MS, `direct both ways ${directMs} ms after the rule was removed`)
  // back on UDP, the device asks for each peer at once (every one was on the relay, whose next try
  // would be PUNCH_RETRY_MS away: 21 s here once): both sides punch within a few round trips
  t.ok(onUdp.ok && directMs - onUdp.ms <= DIRECT_AFTER_UDP_MS, `direct both ways within ${DIRECT_AFTER_UDP_MS} ms of being back on UDP (${directMs - onUdp.ms} ms)`)
  const series = await pinging
  const { longestMs, lost } = gaps(series.replies, series.transmitted)
  t.comment(`during the move: ${series.replies.size}/${series.transmitted} pings answered, longest gap between replies ${longestMs} ms`)
  t.ok(series.transmitted === 450 && longestMs <= LONGEST_PING_GAP_MS, `pings never stopped for more than ${LONGEST_PING_GAP_MS} ms (${longestMs} ms, ${lost} lost)`)
  const { counters } = await device.status()
  t.match(counters, { fallbackSwitches: 1, udpReturns: 1 }, 'one switch to the fallback and one back, counted')
})

t.test('a network that reaches the supernode only through an HTTP CONNECT proxy: TLS through the proxy, pings through the relay', { skip: tinyproxyInstalled() ? false : 'tinyproxy is not installed (apt-get install tinyproxy)' }, async (t) => {
  if (skipUnlessRoot(t, 'an edge reaches the fallback through an HTTP CONNECT proxy')) return
  const ca = makePrivateCa(t, [SUPERNODE_IP])
  const lab = await natLab(t)
  const deviceSite = await lab.addNatSite('cone')
  const techSite = await lab.addNatSite('cone')
  const proxySite = await lab.addPublicHost()
  await lab.startSupernode(tlsSupernodeArgs(ca))
  const proxy = await startTinyproxy(t, { host: proxySite.ip, port: 3128, auth: { user: 'device', password: 'pr0xy' }, ns: proxySite.ns })
  // no UDP out at all, and nothing straight to the supernode: only the proxy gets out
  await lab.dropForward(deviceSite, ['-p', 'udp'])
  await lab.dropForward(deviceSite, ['-d', SUPERNODE_IP])

  const tech = lab.startEdge(techSite, { address: '10.9.0.2/24' })
  const device = lab.startEdge(deviceSite, { address: '10.9.0.1/24', fallback: SUPERNODE_FALLBACK_URL, caFile: ca.caFile, httpsProxy: `http://device:pr0xy@${proxySite.ip}:3128` })
  const times = await registrationTimes(device)
  t.comment(`registered through the proxy ${times?.fromUp} ms after the edge was up`)
  t.ok(times !== null, 'the device registered')
  t.equal(supernodeOf(await device.status())?.transport, 'tls', '/status says tls')
  t.match(proxy.log(), new RegExp(`CONNECT ${SUPERNODE_IP.replace(/\./g, '\\.')}:${SUPERNODE_TLS_PORT}`), 'the tunnel went through the proxy')
  t.ok((await tech.waitRegistered(20_000)).ok)
  t.ok((await lab.firstReply(techSite.ns, device.ip, 15_000)).ok, 'the technician reaches the device')
  const ping = await lab.ping(techSite.ns, device.ip, 20)
  t.equal(ping.received, 20, `pings through the relay and the proxy: ${ping.received}/${ping.transmitted}`)
})
