// Edges behind simulated NATs (in-process, real loopback UDP on the public side): two
// port-restricted cone NATs get a direct path; a symmetric NAT on one side stays connected
// through the relay; relay-only never leaves the relay.
import t from 'tap'
import { ipv4Frame } from '../fixtures/frames.js'
import { directEndpointOf, parseEndpoint, pathOf, peerOf, registered, startEdge, startSupernode, until, type TestEdge } from '../fixtures/overlay.js'

async function ping(from: TestEdge, to: TestEdge, size = 98): Promise<void> {
  const before = to.tap.written.length
  from.tap.inject(ipv4Frame(to.tap.mac, from.tap.mac, from.edge.overlay!.address, to.edge.overlay!.address, size))
  await to.tap.waitForWritten(before + 1)
}

t.test('cone / cone: direct', async (t) => {
  const sn = await startSupernode(t)
  const a = await startEdge(t, [sn], { nat: 'cone' })
  const b = await startEdge(t, [sn], { nat: 'cone' })
  await Promise.all([registered(a), registered(b)])
  // the edge sits at 10.0.x.2 behind its NAT; the supernode must see the NAT's public side
  t.match(a.edge.status().supernodes[0]!.publicEndpoint, /^127\.0\.0\.1:\d+$/, 'the supernode reports the public endpoint')
  await ping(a, b)
  await until('direct through both NATs', () => pathOf(a, b) === 'direct' && pathOf(b, a) === 'direct')
  const direct = directEndpointOf(a, b)!
  t.equal(direct.port, parseEndpoint(b.edge.status().supernodes[0]!.publicEndpoint)!.port, "a reaches b at b's public (NAT) port")
  const relayed = sn.counters.relayedFrames
  await ping(a, b)
  await ping(b, a)
  t.equal(sn.counters.relayedFrames, relayed, 'frames no longer touch the supernode')
})

t.test('symmetric on one side: stays connected through the relay', async (t) => {
  const sn = await startSupernode(t)
  const a = await startEdge(t, [sn], { nat: 'cone' })
  const b = await startEdge(t, [sn], { nat: 'symmetric' })
  await Promise.all([registered(a), registered(b)])
  await ping(a, b)
  await ping(b, a)
  // let punching run its whole schedule (~6 s of real time is too slow for a unit test: the
  // path is checked while punching and after a few rounds)
  await until('both know each other', () => peerOf(a, b)?.mac != null && peerOf(b, a)?.mac != null)
  for (let i = 0; i < 20; i++) {
    await ping(a, b, 60 + i * 50)
    await ping(b, a, 60 + i * 50)
  }
  t.not(pathOf(a, b), 'direct', `a → b is ${pathOf(a, b)}: no direct path through a symmetric NAT`)
  t.ok(b.nat!.mappingCount > 1, `the symmetric NAT opened a port per destination (${b.nat!.mappingCount})`)
  t.ok(sn.counters.relayedFrames >= 40, 'all those frames went through the relay, none lost')
})

t.test('relay-only keeps every peer on the relay', async (t) => {
  const sn = await startSupernode(t)
  const a = await startEdge(t, [sn], { relayOnly: true })
  const b = await startEdge(t, [sn], { relayOnly: true })
  await Promise.all([registered(a), registered(b)])
  for (let i = 0; i < 10; i++) {
    await ping(a, b)
    await ping(b, a)
  }
  t.equal(pathOf(a, b), 'relay')
  t.equal(pathOf(b, a), 'relay')
  t.equal(a.edge.status().counters.probesSent + b.edge.status().counters.probesSent, 0, 'not a single probe sent')
  t.equal(a.edge.status().counters.directOut, 0)
})
