// Two and three edges on pair sessions: frames cross relayed (RELAY to the peer's edge ID) while
// the handshake and punching run, then direct; frames sent before the session is ready wait for it
// and arrive in order; a frame flooded (broadcast, unknown MAC) is sealed once and reaches every
// member once.
import t from 'tap'
import { ManualClock } from '../../src/time/manual-clock.js'
import { BROADCAST, ipv4Frame } from '../fixtures/frames.js'
import { TestNetwork, type Node } from '../fixtures/data-paths.js'

function frameFrom(from: Node, to: Node, n: number): Buffer {
  return ipv4Frame(to.tap.mac, from.tap.mac, `10.9.0.${from.tap.mac[5]}`, `10.9.0.${to.tap.mac[5]}`, 98, 0x30 + (n % 64))
}

function peerPath(node: Node, other: Node): string | undefined {
  return node.path.peers.get(other.edgeId)?.path.state
}

t.test('two edges: the first frames wait for the handshake, cross relayed, then the path goes direct', async (t) => {
  const net = await TestNetwork.start(t, new ManualClock())
  const a = await net.add('a')
  const b = await net.add('b')
  net.introduce(a, b)
  await net.until('both know each other', () => a.path.peers.get(b.edgeId) !== undefined && b.path.peers.get(a.edgeId) !== undefined)
  // sent at once: the session is not ready yet, so these wait in the peer's queue
  for (let i = 0; i < 3; i++) a.tap.inject(frameFrom(a, b, i))
  await net.until('the three frames arrive', () => b.tap.written.length >= 3)
  t.same(b.tap.written.slice(0, 3), [0, 1, 2].map((i) => frameFrom(a, b, i)), 'in order, unchanged')
  t.equal(a.path.peers.get(b.edgeId)!.session.state, 'ready')
  await net.until('direct both ways', () => peerPath(a, b) === 'direct' && peerPath(b, a) === 'direct')
  const relayedBefore = a.counters.relayedOut
  a.tap.inject(frameFrom(a, b, 9))
  b.tap.inject(frameFrom(b, a, 9))
  await net.until('one more each way', () => b.tap.written.length >= 4 && a.tap.written.length >= 1)
  t.equal(a.counters.relayedOut, relayedBefore, 'the last frame went direct')
  t.ok(a.counters.directOut >= 1)
  const status = a.path.peers.get(b.edgeId)!
  t.equal(status.identity.certificate.mac.toString('hex'), b.tap.mac.toString('hex'), 'the peer is its certificate')
  t.end()
})

t.test('three edges: a broadcast is sealed once and reaches every other member once', async (t) => {
  const net = await TestNetwork.start(t, new ManualClock())
  const [a, b, c] = [await net.add('a'), await net.add('b'), await net.add('c')]
  net.introduce(a, b)
  net.introduce(a, c)
  net.introduce(b, c)
  await net.until('every session ready', () => [a, b, c].every((n) => [...n.path.peers.values()].length === 2 && [...n.path.peers.values()].every((p) => p.session.state === 'ready')))
  // broadcast keys travel inside the sessions right after they are ready
  await net.run(200)
  const arp = ipv4Frame(BROADCAST, a.tap.mac, '10.9.0.1', '10.9.0.255')
  net.recording = true
  a.tap.inject(arp)
  await net.until('b and c got it', () => b.tap.written.length >= 1 && c.tap.written.length >= 1)
  await net.run(200)
  t.equal(net.recorded.length, 1, 'one sealed copy left a, the relay fanned it out')
  t.same(b.tap.written, [arp])
  t.same(c.tap.written, [arp])
  t.end()
})
