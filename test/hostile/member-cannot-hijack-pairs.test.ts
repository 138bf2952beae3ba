// What the audit's member could do in protocol v1, tried against pair sessions. A third member C:
// - captures A↔B traffic the relay forwards (as a supernode operator or a member on the path
//   could): cannot open any of it (no session of its own has those indices), and replaying it to B
//   delivers nothing;
// - sends A a PROBE_ACK from its own socket: it opens only under C's own session with A, so only
//   C's path can move, never A↔B's;
// - sends A a session packet with a huge counter under the index A uses for B (learned from the
//   captured traffic), and one under an index nobody has: dropped (the tag does not verify under
//   B's keys; the index is unknown), B's replay window does not move, B is not blackholed;
// - gets a certificate for B's MAC (another key): A keeps B, refuses C's claim, counts it.
import t from 'tap'
import { ManualClock } from '../../src/time/manual-clock.js'
import { SESSION_HEADER_BYTES, SessionKind, SessionPacketType, encodeProbeAckPayload, endpointOf, writeSessionDataHeader } from '../../src/wire/index.js'
import { ipv4Frame, mac } from '../fixtures/frames.js'
import { TestNetwork, innerOf, type Node } from '../fixtures/data-paths.js'

function frameFrom(from: Node, to: Node, n: number): Buffer {
  return ipv4Frame(to.tap.mac, from.tap.mac, `10.9.0.${from.tap.mac[5]}`, `10.9.0.${to.tap.mac[5]}`, 98, 0x30 + n)
}

function ready(node: Node, other: Node): boolean {
  return node.path.peers.get(other.edgeId)?.session.state === 'ready'
}

t.test('a third member can neither read, redirect nor blackhole another pair', async (t) => {
  const net = await TestNetwork.start(t, new ManualClock())
  const a = await net.add('a')
  const b = await net.add('b')
  const c = await net.add('c')
  net.recording = true
  net.introduce(a, b)
  net.introduce(a, c)
  await net.until('sessions ready', () => ready(a, b) && ready(b, a) && ready(a, c) && ready(c, a))
  for (let i = 0; i < 5; i++) b.tap.inject(frameFrom(b, a, i))
  await net.until('a got b’s frames', () => a.tap.written.length >= 5)
  await net.until('a↔b direct', () => a.path.peers.get(b.edgeId)?.path.state === 'direct' && b.path.peers.get(a.edgeId)?.path.state === 'direct')
  net.recording = false
  const pairTraffic = net.recorded.filter((r) => senderOf(r) !== c.edgeId && destOf(r) !== c.edgeId)
  t.ok(pairTraffic.length >= 4, `captured ${pairTraffic.length} relayed datagrams of the pair a↔b`)

  // 1. C cannot open what it captured, and replaying it to B delivers nothing
  const out = Buffer.alloc(2048)
  let opened = 0
  for (const packet of pairTraffic) if (c.path.sessions.receive(innerOf(packet), out).kind === 'data') opened++
  t.equal(opened, 0, 'none of the captured packets opens at C')
  const bWrittenBefore = b.tap.written.length
  for (const packet of pairTraffic) c.transport.send(innerOf(packet), 0, packet.length - 20, b.port, '127.0.0.1')
  await net.run(200)
  t.equal(b.tap.written.length, bWrittenBefore, 'replayed to B: nothing reaches B’s host')

  // 2. a PROBE_ACK from C's socket moves no path but C's own
  const bPath = a.path.peers.get(b.edgeId)!.path
  const bEndpoint = { ...bPath.endpoint! }
  const cSession = c.path.peers.get(a.edgeId)!.session
  const ack = encodeProbeAckPayload(net.clock.now(), endpointOf('127.0.0.1', a.port))
  t.equal(c.path.sender.direct(cSession, SessionKind.ProbeAck, ack, '127.0.0.1', a.port), 'sent')
  await net.run(100)
  t.same(bPath.endpoint, bEndpoint, 'A’s path to B still goes to B')
  t.equal(bPath.state, 'direct')

  // 3. a huge counter under the index A uses for B (from the captured traffic), and under a made-up index
  const bToA = pairTraffic.find((r) => senderOf(r) === b.edgeId && r[RELAY_INNER_TYPE] === SessionPacketType.SessionData)!
  const stolenIndex = innerOf(bToA).readUInt32BE(4)
  const aKeysForB = a.path.peers.get(b.edgeId)!.session.keysFor(stolenIndex)!
  const highestBefore = aKeysForB.replay.highest
  const forged = Buffer.alloc(SESSION_HEADER_BYTES + 100, 0x55)
  writeSessionDataHeader(forged, stolenIndex, 2 ** 53 - 2, SessionKind.ProbeAck)
  const lesser = Buffer.from(forged)
  writeSessionDataHeader(lesser, stolenIndex, 2 ** 40, SessionKind.Frame)
  const madeUp = Buffer.from(forged)
  writeSessionDataHeader(madeUp, (stolenIndex ^ 0x5a5a5a5a) >>> 0 || 1, 2 ** 53 - 2, SessionKind.Frame)
  const sessionDrops = { ...a.path.sessionDrops }
  for (const packet of [forged, lesser, madeUp]) c.transport.send(packet, 0, packet.length, a.port, '127.0.0.1')
  await net.run(100)
  t.equal(a.path.sessionDrops['keys-expired'] - sessionDrops['keys-expired'], 1, 'the stolen index with a counter past REJECT_AFTER_MESSAGES: dropped, keys-expired')
  t.equal(a.path.sessionDrops['auth-failed'] - sessionDrops['auth-failed'], 1, 'the stolen index with a counter of 2^40: dropped, auth-failed')
  t.equal(a.path.sessionDrops['unknown-index'] - sessionDrops['unknown-index'], 1, 'the made-up index: dropped, unknown-index')
  t.equal(aKeysForB.replay.highest, highestBefore, 'B’s replay window did not move')
  const aWritten = a.tap.written.length
  b.tap.inject(frameFrom(b, a, 40))
  await net.until('B still reaches A', () => a.tap.written.length > aWritten)
  t.same(bPath.endpoint, bEndpoint, 'and on the same path')

  // 4. a certificate for B's MAC with another key: A keeps B
  const impostor = await net.add('impostor', { mac: mac(b.tap.mac[5]!), ipv4: { address: '10.9.0.77', prefix: 24 } })
  net.introduce(a, impostor)
  await net.run(200)
  t.ok(a.drops['mac-in-use'] >= 1, `refused and counted: mac-in-use ${a.drops['mac-in-use']} (its announcement, and its handshake)`)
  t.equal(a.path.peers.get(impostor.edgeId), undefined, 'the impostor is no peer of A')
  t.equal(a.path.sessions.session(impostor.credentials.identity.publicKey), undefined, 'A holds no session with it')
  t.not(impostor.path.peers.get(a.edgeId)?.session.state, 'ready', 'and its handshake with A never completed')
  t.equal(a.path.peers.byMacKey(b.tap.mac.readUIntBE(0, 6))?.edgeId, b.edgeId, 'B’s MAC still leads to B')
  t.end()
})

const RELAY_INNER_TYPE = 21

/** A recorded RELAY's sender and destination edge IDs (u64 at 4 and 12). */
function senderOf(relay: Buffer): number {
  return Number(relay.readBigUInt64BE(4))
}

function destOf(relay: Buffer): number {
  return Number(relay.readBigUInt64BE(12))
}
