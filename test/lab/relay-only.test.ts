// --relay-only on both edges, each behind a cone NAT where a direct path would work: pings pass,
// and the path stays `relay` the whole time on both sides (polled while pinging for ~3 s).
import t from 'tap'
import { natLab, SUPERNODE_MGMT_URL } from '../fixtures/lab.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const POLLS = 10
const POLL_INTERVAL_MS = 300

interface SupernodeStatus {
  counters: { relayedFrames: number }
}

t.test('--relay-only: pings pass and the path never leaves the relay', async (t) => {
  if (skipUnlessRoot(t, 'relay-only edges stay on the relay')) return
  const lab = await natLab(t)
  const siteA = await lab.addNatSite('cone')
  const siteB = await lab.addNatSite('cone')
  await lab.startSupernode()
  const a = lab.startEdge(siteA, { address: '10.9.0.1/24', relayOnly: true })
  const b = lab.startEdge(siteB, { address: '10.9.0.2/24', relayOnly: true })

  // counted from both edges being up (node's start-up on a busy machine is not what this tests)
  const first = await lab.firstReply(siteA.ns, b.ip, 20_000)
  const up = Math.max(a.upAt ?? Infinity, b.upAt ?? Infinity)
  t.ok(first.ok && first.at - up <= 10_000, `first ping ${first.at - up} ms after both edges were up`)
  const relayedBefore = (await lab.getJson<SupernodeStatus>(lab.supernodeNs, `${SUPERNODE_MGMT_URL}/status`)).counters.relayedFrames

  const pinging = lab.exec(siteA.ns, 'ping', ['-4', '-n', '-c', '15', '-i', '0.2', '-W', '1', b.ip])
  const paths: string[] = []
  for (let i = 0; i < POLLS; i++) {
    const [ab, ba] = await Promise.all([a.pathTo(b.ip), b.pathTo(a.ip)])
    paths.push(`${ab}/${ba}`)
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS))
  }
  const ping = await pinging
  const received = Number(/(\d+) received/.exec(ping.stdout)?.[1] ?? 0)
  const relayedAfter = (await lab.getJson<SupernodeStatus>(lab.supernodeNs, `${SUPERNODE_MGMT_URL}/status`)).counters.relayedFrames
  t.comment(`paths polled (A→B/B→A): ${paths.join(' ')}`)
  t.comment(`pings ${received}/15, supernode relayed ${relayedAfter - relayedBefore} frames meanwhile`)
  t.equal(received, 15, 'every ping answered')
  t.ok(paths.every((p) => p === 'relay/relay'), 'relay on both sides at every poll')
  t.ok(relayedAfter - relayedBefore >= 30, 'the echo requests and replies went through the supernode')
  const statusA = await a.status()
  t.equal(statusA.counters.directOut, 0, 'A sent nothing direct')
  t.equal(statusA.counters.probesSent, 0, 'A sent no probes')
})
