// A peer's certificate past its notAfter (by this edge's clock) or revoked ends its session at
// every other edge within a second: keys erased, MAC unbound, counted; its broadcast key is
// rotated away, so what the others flood next is not readable by it; and a recorded initiation of
// it cannot open a session again.
import t from 'tap'
import { signRevocation } from '../../src/crypto/revocation.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { BROADCAST, ipv4Frame } from '../fixtures/frames.js'
import { TestNetwork, type Node } from '../fixtures/data-paths.js'
import { BroadcastHeader, encodeRevocationPacket, readBroadcastHeader, RELAY_PREFIX_BYTES } from '../../src/wire/index.js'

function allReady(nodes: Node[]): boolean {
  return nodes.every((n) => n.path.peers.size === nodes.length - 1 && [...n.path.peers.values()].every((p) => p.session.state === 'ready'))
}

t.test('a certificate past notAfter ends its sessions within a second, by each edge’s own clock', async (t) => {
  const clock = new ManualClock()
  const net = await TestNetwork.start(t, clock)
  const notAfter = Math.floor(clock.now() / 1000) + 30
  const a = await net.add('a')
  const short = await net.add('short', { notAfter })
  net.introduce(a, short)
  await net.until('ready', () => allReady([a, short]))
  const peer = a.path.peers.get(short.edgeId)!
  const keys = peer.session.current!
  await net.run(notAfter * 1000 - clock.now() - 100)
  t.equal(a.path.peers.get(short.edgeId), peer, 'still a peer just before notAfter')
  await net.run(1_100)
  t.equal(a.path.peers.get(short.edgeId), undefined, 'gone within a second of notAfter')
  t.equal(a.counters.peersExpired, 1, 'counted')
  t.ok(keys.erased, 'its session keys erased')
  t.equal(peer.session.state, 'closed')
  t.equal(a.path.peers.byMacKey(short.tap.mac.readUIntBE(0, 6)), undefined, 'its MAC unbound')
  t.end()
})

t.test('a revocation from the supernode ends the peer everywhere within a second; the broadcast key it held is rotated away', async (t) => {
  const clock = new ManualClock()
  const net = await TestNetwork.start(t, clock)
  const [a, b, gone] = [await net.add('a'), await net.add('b'), await net.add('gone')]
  net.introduce(a, b)
  net.introduce(a, gone)
  net.introduce(b, gone)
  await net.until('ready', () => allReady([a, b, gone]))
  await net.run(200)
  const oldKeyId = a.path.broadcastKeys.keyId
  const certificate = gone.credentials.certificate
  const revocation = encodeRevocationPacket(signRevocation(net.ca.authority, certificate, Math.floor(clock.now() / 1000)))
  const at = clock.now()
  net.sendTo(a, revocation)
  net.sendTo(b, revocation)
  await net.until('a and b dropped it', () => a.path.peers.get(gone.edgeId) === undefined && b.path.peers.get(gone.edgeId) === undefined, 1_000)
  t.ok(clock.now() - at <= 1_000, `both within ${clock.now() - at} ms of clock time`)
  t.equal(a.counters.peersRevoked, 1)
  t.equal(b.counters.peersRevoked, 1)
  t.not(a.path.broadcastKeys.keyId, oldKeyId, 'a made a new broadcast key')

  await net.run(200) // the new key reaches b inside their session
  net.recording = true
  const arp = ipv4Frame(BROADCAST, a.tap.mac, '10.9.0.1', '10.9.0.255')
  a.tap.inject(arp)
  await net.until('b got the broadcast', () => b.tap.written.some((f) => f.equals(arp)))
  await net.run(100)
  t.notOk(gone.tap.written.some((f) => f.equals(arp)), 'the revoked member did not get it')
  const copy = net.recorded.find((r) => r[RELAY_PREFIX_BYTES + 1] === 0x23)!
  const h = new BroadcastHeader()
  t.equal(readBroadcastHeader(copy.subarray(RELAY_PREFIX_BYTES), h), null)
  t.equal(h.keyId, a.path.broadcastKeys.keyId, 'sealed under the new key')
  const held = gone.path.peers.get(a.edgeId)!.broadcast
  t.equal(held.open(copy.subarray(RELAY_PREFIX_BYTES), h.keyId, h.counter, clock.now(), Buffer.alloc(2048)), 'unknown-broadcast-key', 'the revoked member, handed the copy, cannot open it')
  t.end()
})
