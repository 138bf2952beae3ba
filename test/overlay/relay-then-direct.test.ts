// Two and three edges on loopback: frames of every size cross first through the supernode relay,
// then on a direct path once hole punching succeeds; broadcast reaches every member.
import t from 'tap'
import { BROADCAST, arpBroadcast, ipv4Frame } from '../fixtures/frames.js'
import { pathOf, registered, startEdge, startSupernode, until } from '../fixtures/overlay.js'

t.test('two edges: relay first, then direct, frames of 60 bytes to MTU arrive intact', async (t) => {
  const sn = await startSupernode(t)
  const a = await startEdge(t, [sn])
  const b = await startEdge(t, [sn])
  await Promise.all([registered(a), registered(b)])

  // the first frame to an unknown MAC goes through the relay (flooded) and starts a peer query
  const first = ipv4Frame(b.tap.mac, a.tap.mac, a.edge.overlay!.address, b.edge.overlay!.address, 98)
  a.tap.inject(first)
  await b.tap.waitForWritten(1)
  t.same(b.tap.written[0], first, 'first frame arrives through the relay')
  t.equal(a.edge.status().counters.relayedOut, 1, 'it went through the supernode')

  await until('both sides direct', () => pathOf(a, b) === 'direct' && pathOf(b, a) === 'direct')
  const relayedBefore = sn.counters.relayedFrames
  const sizes = [60, 61, 64, 128, 512, 1000, 1399, a.tap.mtu + 14]
  for (const size of sizes) {
    a.tap.inject(ipv4Frame(b.tap.mac, a.tap.mac, a.edge.overlay!.address, b.edge.overlay!.address, size, size & 0xff))
    b.tap.inject(ipv4Frame(a.tap.mac, b.tap.mac, b.edge.overlay!.address, a.edge.overlay!.address, size, size & 0xff))
  }
  await b.tap.waitForWritten(1 + sizes.length)
  await a.tap.waitForWritten(sizes.length)
  t.same(b.tap.written.slice(1).map((f) => f.length), sizes, 'every size arrives at b, in order')
  t.same(a.tap.written.map((f) => f.length), sizes, 'every size arrives at a, in order')
  t.ok(b.tap.written.slice(1).every((f, i) => f[40] === (sizes[i]! & 0xff)), 'payload bytes intact')
  t.equal(sn.counters.relayedFrames, relayedBefore, 'nothing went through the relay once direct')
  t.ok(a.edge.status().counters.directOut >= sizes.length)
})

t.test('three edges: broadcast reaches every other member, and every pair goes direct', async (t) => {
  const sn = await startSupernode(t)
  const edges = [await startEdge(t, [sn]), await startEdge(t, [sn]), await startEdge(t, [sn])]
  await Promise.all(edges.map((e) => registered(e)))
  const [a, b, c] = edges as [(typeof edges)[0], (typeof edges)[0], (typeof edges)[0]]

  // a gratuitous ARP for its own address: the ARP sender must be the one its certificate binds
  a.tap.inject(arpBroadcast(a.tap.mac, a.edge.overlay!.address))
  await Promise.all([b.tap.waitForWritten(1), c.tap.waitForWritten(1)])
  t.same(b.tap.written[0]!.subarray(0, 6), BROADCAST)
  t.same(c.tap.written[0]!.subarray(0, 6), BROADCAST)
  t.equal(a.tap.written.length, 0, 'the sender does not get its own broadcast back')

  // unicast between every pair makes each pair find each other and punch
  for (const [x, y] of [[a, b], [a, c], [b, c]] as const) {
    x.tap.inject(ipv4Frame(y.tap.mac, x.tap.mac, x.edge.overlay!.address, y.edge.overlay!.address))
  }
  await until('every pair direct', () => [[a, b], [a, c], [b, c], [b, a], [c, a], [c, b]].every(([x, y]) => pathOf(x!, y!) === 'direct'))
  const st = a.edge.status()
  t.equal(st.peers.length, 2)
  t.ok(st.peers.every((p) => p.path === 'direct' && p.endpoint !== null && p.rttMs !== null), 'status shows both peers direct with endpoint and RTT')
  t.same(new Set(st.peers.map((p) => p.mac)), new Set(['02:00:00:00:00:' + b.tap.mac[5]!.toString(16).padStart(2, '0'), '02:00:00:00:00:' + c.tap.mac[5]!.toString(16).padStart(2, '0')]))
})
