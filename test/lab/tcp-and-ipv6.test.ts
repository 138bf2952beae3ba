// Real traffic over the overlay: an iperf3 TCP run of 3 s completes (its rate is printed, not
// asserted), and IPv6 link-local ping works across the TAP devices (neighbour discovery and
// ICMPv6 through the overlay).
import t from 'tap'
import { natLab, TAP, waitFor } from '../fixtures/lab.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

interface IperfJson {
  end?: { sum_received?: { bits_per_second: number; bytes: number }; sum_sent?: { retransmits?: number } }
  error?: string
}

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

  const server = lab.spawn('iperf3 -s', siteB.ns, 'iperf3', ['-s', '-1', '-B', b.ip, '--forceflush'])
  t.ok(await server.waitForLine(/Server listening/, 10_000), 'iperf3 server listening on the overlay address')
  const client = await lab.exec(siteA.ns, 'iperf3', ['-c', b.ip, '-t', '3', '-J', '--connect-timeout', '3000'], 20_000)
  let result: IperfJson = {}
  try {
    result = JSON.parse(client.stdout) as IperfJson
  } catch {
    t.comment(`iperf3 output: ${client.stdout} ${client.stderr}`)
  }
  t.equal(client.code, 0, `iperf3 -c -t 3 completes${result.error ? `: ${result.error}` : ''}`)
  const received = result.end?.sum_received
  const mbits = (received?.bits_per_second ?? 0) / 1e6
  t.comment(`iperf3 A → B, 3 s: ${mbits.toFixed(1)} Mbit/s, ${((received?.bytes ?? 0) / 1e6).toFixed(1)} MB, retransmits ${result.end?.sum_sent?.retransmits ?? '-'}`)
  t.ok(mbits > 0, 'data arrived')

  const linkLocalB = await lab.linkLocal(siteB.ns, 10_000)
  t.ok(linkLocalB, `B's ${TAP} link-local address: ${linkLocalB}`)
  t.ok(await lab.linkLocal(siteA.ns, 10_000), `A's ${TAP} link-local address is ready`)
  const ping6 = await lab.ping(siteA.ns, `${linkLocalB}%${TAP}`, 3, 6)
  t.comment(`ping -6 ${linkLocalB}%${TAP}: ${ping6.received}/${ping6.transmitted}`)
  t.equal(ping6.received, 3, 'IPv6 link-local ping across the overlay')
})
