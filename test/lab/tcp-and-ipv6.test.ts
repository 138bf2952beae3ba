// Real traffic over the overlay: an iperf3 TCP run of 3 s completes (its rate is printed, not
// asserted), and IPv6 link-local ping works across the TAP devices (neighbour discovery and
// ICMPv6 through the overlay).
import t from 'tap'
import { natLab, TAP, waitFor } from '../fixtures/lab.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

t.test('iperf3 over the overlay, and IPv6 link-local ping', async (t) => {
  if (skipUnlessRoot(t, 'TCP throughput and IPv6 over the overlay')) return
  const lab = await natLab(t)
  const siteA = await lab.addPublicHost()
  const siteB = await lab.addPublicHost()
  await lab.startSupernode()
  const a = lab.startEdge(siteA, { address: '10.9.0.1/24' })
  const b = lab.startEdge(siteB, { address: '10.9.0.2/24' })
  const first = await lab.firstReply(siteA.ns, b.ip, 10_000)
  t.ok(first.ok, `A pings B (${first.ms} ms)`)
  const direct = await waitFor('direct', async () => ((await a.pathTo(b.ip)) === 'direct' ? true : undefined), 10_000)
  t.comment(`path A → B before iperf3: ${await a.pathTo(b.ip)} (${direct.ms} ms after the first ping)`)

  const iperf = await lab.iperf3(siteA.ns, siteB.ns, b.ip, 3)
  t.ok(iperf.ok, `iperf3 -c -t 3 completes${iperf.error ? `: ${iperf.error}` : ''}`)
  t.comment(`iperf3 A → B, 3 s: ${iperf.mbits.toFixed(1)} Mbit/s, ${iperf.megabytes.toFixed(1)} MB, retransmits ${iperf.retransmits ?? '-'}`)
  t.ok(iperf.mbits > 0, 'data arrived')

  const linkLocalB = await lab.linkLocal(siteB.ns, 10_000)
  t.ok(linkLocalB, `B's ${TAP} link-local address: ${linkLocalB}`)
  t.ok(await lab.linkLocal(siteA.ns, 10_000), `A's ${TAP} link-local address is ready`)
  const ping6 = await lab.ping(siteA.ns, `${linkLocalB}%${TAP}`, 3, 6)
  t.comment(`ping -6 ${linkLocalB}%${TAP}: ${ping6.received}/${ping6.transmitted}`)
  t.equal(ping6.received, 3, 'IPv6 link-local ping across the overlay')
})
