// Two edges, each behind its own Linux MASQUERADE router (port-restricted cone), with a routing
// hop between the NATs: the first ping passes within 5 s of the edges starting (through the
// relay if need be), and hole punching makes the path direct within 5 s more, on both sides.
// "Starting" is when the later of the two edges logs that it runs (TAP open, socket bound): how
// long node takes to load under a busy test run is not the edge's doing; the time from spawning
// the processes is printed as well.
import t from 'tap'
import { natLab, waitFor } from '../fixtures/lab.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const FIRST_PING_MS = 5_000
const DIRECT_MS = 5_000

t.test('cone / cone: ping within 5 s, then direct within 5 s more', async (t) => {
  if (skipUnlessRoot(t, 'two edges behind MASQUERADE NATs go direct')) return
  const lab = await natLab(t)
  const siteA = await lab.addNatSite('cone')
  const siteB = await lab.addNatSite('cone')
  await lab.startSupernode()

  const spawned = Date.now()
  const a = lab.startEdge(siteA, { address: '10.9.0.1/24' })
  const b = lab.startEdge(siteB, { address: '10.9.0.2/24' })
  const first = await lab.firstReply(siteA.ns, b.ip, FIRST_PING_MS + 10_000)
  t.ok(first.ok, 'a ping from A reaches B')
  const up = Math.max(a.upAt ?? Infinity, b.upAt ?? Infinity)
  const firstPingMs = first.at - up
  t.comment(`edges up ${up - spawned} ms after spawning; first successful ping ${firstPingMs} ms after both were up (${first.at - spawned} ms after spawning)`)
  t.ok(first.ok && firstPingMs <= FIRST_PING_MS, `first ping within ${FIRST_PING_MS} ms of the edges starting (${firstPingMs} ms)`)

  const direct = await waitFor('both sides direct', async () => {
    const [ab, ba] = await Promise.all([a.pathTo(b.ip), b.pathTo(a.ip)])
    return ab === 'direct' && ba === 'direct' ? true : undefined
  }, DIRECT_MS + 10_000)
  const statusA = await a.status()
  const peerB = statusA.peers.find((p) => p.ip === b.ip)
  t.comment(`path direct on both sides ${direct.ms} ms after the first ping (A → B at ${peerB?.endpoint ?? '-'}, rtt ${peerB?.rttMs ?? '-'} ms)`)
  t.ok(direct.ok, `both sides direct (${direct.ok ? direct.ms + ' ms' : 'not within ' + direct.ms + ' ms'})`)
  t.ok(direct.ok && direct.ms <= DIRECT_MS, `direct within ${DIRECT_MS} ms of the first ping`)
  t.equal(peerB?.endpoint?.split(':')[0], siteB.publicIp, "A reaches B at B's NAT's public address")

  const ping = await lab.ping(siteA.ns, b.ip, 5)
  t.equal(ping.received, 5, `pings on the direct path: ${ping.received}/${ping.transmitted}`)
})
