// Protocol v1 meets a v2 supernode (W1): a v1 HELLO is answered with a v1 COOKIE (how a v2 edge's
// probe, and a v1 edge, learn that this supernode is up); every other v1 packet (a v1 edge's
// REGISTER, KEEPALIVE, RELAY) is dropped, counted `old-protocol`, and logged once a minute with
// what to upgrade. And RELAY v2's own rule: destination 0 carries only a BROADCAST, and a BROADCAST
// goes only to destination 0.
import t from 'tap'
import { ManualClock } from '../../src/time/manual-clock.js'
import { COOKIE_PACKET_BYTES, HELLO_BYTES, OLD_WIRE_VERSION, PacketType, encodeHello, encodeKeepalive, isOldProtocolCookie } from '../../src/wire/index.js'
import { RawMember } from '../fixtures/raw-member.js'
import { keptLines, startSupernode, until } from '../fixtures/supernode-start.js'
import { TestAuthority, sessionRelay } from '../fixtures/supernode-members.js'

/** A packet as protocol v1 would have sent it: v2's bytes with version byte 1. */
function asVersion1(packet: Buffer): Buffer {
  const old = Buffer.from(packet)
  old[0] = OLD_WIRE_VERSION
  return old
}

t.test('a v1 HELLO gets a v1 COOKIE; other v1 packets are dropped as old-protocol with one line a minute', async (t) => {
  const clock = new ManualClock(Date.now())
  const { lines, logger } = keptLines()
  const sn = await startSupernode(t, {}, clock, logger)
  const old = await RawMember.open(t, sn.port, '127.0.0.101')
  const nonce = Buffer.from('0102030405060708', 'hex')
  old.send(encodeHello(nonce, OLD_WIRE_VERSION))
  await until('cookie', () => old.received.length === 1)
  const cookie = old.received[0]!
  t.ok(isOldProtocolCookie(cookie), `a v1 COOKIE (${COOKIE_PACKET_BYTES} bytes for a ${HELLO_BYTES}-byte HELLO)`)
  t.same(cookie.subarray(4, 12), nonce, 'answering its nonce')
  t.equal(sn.drops['old-protocol'], 1, 'counted old-protocol')

  const member = new TestAuthority().issue()
  const v1Packets = [asVersion1(encodeKeepalive(PacketType.Keepalive, member.edgeId, 1)), asVersion1(sessionRelay(member.edgeId, 9, 1)), Buffer.from([OLD_WIRE_VERSION, PacketType.Register, 0, 0, 1, 2, 3])]
  for (const packet of v1Packets) old.send(packet)
  await until('dropped', () => sn.drops['old-protocol'] === 4)
  const upgradeLines = (): string[] => lines.filter((l) => l.includes('speaks protocol v1'))
  t.same(upgradeLines(), [`warn an edge at 127.0.0.101:${old.port} speaks protocol v1 (overlan 0.1): upgrade it to overlan 0.2 or later`], 'one line for three packets')
  t.equal(old.received.length, 1, 'nothing answered but the HELLO')
  clock.jump(60_000)
  old.send(v1Packets[0]!)
  await until('dropped again', () => sn.drops['old-protocol'] === 5)
  t.equal(upgradeLines().length, 2, 'a minute later, one more line')
  t.equal(sn.registry.edges.size, 0)
})

t.test('RELAY v2: destination 0 only with a BROADCAST inside, a BROADCAST only to destination 0', async (t) => {
  const sn = await startSupernode(t)
  const community = new TestAuthority()
  const [a, b] = [community.issue(), community.issue()]
  const sa = await RawMember.open(t, sn.port, '127.0.0.102')
  const sb = await RawMember.open(t, sn.port, '127.0.0.103')
  t.equal((await sa.register(a.announce())).type, PacketType.RegisterAck)
  t.equal((await sb.register(b.announce())).type, PacketType.RegisterAck)
  const broadcast = sessionRelay(a.edgeId, 0, 1)
  const unicast = sessionRelay(a.edgeId, b.edgeId, 2)
  // swap the inner types: a SESSION_DATA to everyone, a BROADCAST to one
  const dataToAll = Buffer.from(unicast)
  dataToAll.fill(0, 12, 20)
  const broadcastToOne = Buffer.from(broadcast)
  broadcastToOne.set(unicast.subarray(12, 20), 12)
  sa.send(dataToAll)
  sa.send(broadcastToOne)
  await until('both refused', () => sn.drops['bad-inner-packet'] === 2)
  sa.send(broadcast)
  sa.send(unicast)
  await until('both relayed', () => sb.received.filter((m) => m[1] === PacketType.Relay).length === 2)
  const relayed = sb.received.filter((m) => m[1] === PacketType.Relay)
  t.same(relayed, [broadcast, unicast], 'forwarded unchanged, byte for byte')
  t.equal(sn.counters.relayedFrames, 2)
})
