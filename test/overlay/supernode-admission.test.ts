// What the supernode admits, over real loopback UDP: edges per source endpoint and per source
// address (an IPv6 /64 as one) are bounded, refused with an ERROR that carries the REGISTER's nonce
// and counted; a RELAY from anyone but its sender's registered endpoint meets the control rate
// limiters before anything else and relies on nothing; relayed frames never keep a registration
// alive; relayed bytes out (fan-out included) are held to the source's and community's budgets.
import { createSocket } from 'node:dgram'
import t, { type Test } from 'tap'
import { ErrorCode, NO_PROOF, PacketType, encodeKeepalive, type Packet } from '../../src/wire/index.js'
import { ERROR_BURST } from '../../src/supernode/supernode.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { startSupernode, until } from '../fixtures/supernode-start.js'
import { RawMember } from '../fixtures/raw-member.js'
import { TestAuthority, sessionRelay as relayFrame } from '../fixtures/supernode-members.js'

/** A signed announcement of a new member of `keys`' community, with a MAC and overlay address of its own. */
function newRecord(keys: TestAuthority): { record: Buffer; edgeId: number } {
  const member = keys.issue()
  return { record: member.announce(), edgeId: member.edgeId }
}

interface Member {
  raw: RawMember
  edgeId: number
}

/** Members of `keys`' community registered with the supernode on `port`, one per loopback address given. */
async function registerMembers(t: Test, port: number, keys: TestAuthority, addresses: string[]): Promise<Member[]> {
  const members: Member[] = []
  for (const address of addresses) {
    const raw = await RawMember.open(t, port, address)
    const { record, edgeId } = newRecord(keys)
    t.equal((await raw.register(record)).type, PacketType.RegisterAck, `${address} registered`)
    members.push({ raw, edgeId })
  }
  return members
}

function isError(packet: Packet, code: ErrorCode): boolean {
  return packet.type === PacketType.Error && packet.code === code
}

t.test('edges per endpoint and per address are bounded; refusals carry the nonce and are counted', async (t) => {
  const sn = await startSupernode(t, { maxEdgesPerEndpoint: 2, maxEdgesPerAddress: 3 })
  const keys = new TestAuthority()
  const one = await RawMember.open(t, sn.port, '127.0.0.21')
  const answers: Packet[] = []
  for (let i = 0; i < 3; i++) answers.push(await one.register(newRecord(keys).record))
  t.same(
    answers.map((a) => a.type),
    [PacketType.RegisterAck, PacketType.RegisterAck, PacketType.Error],
  )
  t.ok(isError(answers[2]!, ErrorCode.EndpointFull), 'the third from one endpoint: ERROR endpoint-full')
  t.equal(sn.drops['endpoint-full'], 1, 'counted')

  // the same address from other ports: three edges in all, then address-full
  const two = await RawMember.open(t, sn.port, '127.0.0.21')
  t.equal((await two.register(newRecord(keys).record)).type, PacketType.RegisterAck, 'a third edge from another port of the address')
  const three = await RawMember.open(t, sn.port, '127.0.0.21')
  const refused = await three.register(newRecord(keys).record)
  t.ok(isError(refused, ErrorCode.AddressFull), 'a fourth from the address: ERROR address-full')
  t.equal(sn.drops['address-full'], 1, 'counted')
  const elsewhere = await RawMember.open(t, sn.port, '127.0.0.22')
  t.equal((await elsewhere.register(newRecord(keys).record)).type, PacketType.RegisterAck, 'another address is not affected')
  t.equal(sn.registry.edges.size, 4)
  t.match(sn.metrics(), /overlan_supernode_dropped_total\{reason="endpoint-full"\} 1/)
  t.match(sn.metrics(), /overlan_supernode_dropped_total\{reason="address-full"\} 1/)
})

const probe = createSocket('udp6')
const hasIpv6 = await new Promise<boolean>((resolve) => {
  probe.once('error', () => resolve(false))
  probe.bind(0, '::1', () => resolve(true))
})
probe.close()

t.test('IPv6: the source address is the /64 (live on ::1)', { skip: hasIpv6 ? false : 'no ::1 on this host' }, async (t) => {
  const sn = await startSupernode(t, { bindAddress: '::1', maxEdgesPerAddress: 1 })
  const keys = new TestAuthority()
  const first = await RawMember.open(t, sn.port, '::1')
  t.equal((await first.register(newRecord(keys).record)).type, PacketType.RegisterAck, 'one edge from [::1]')
  const second = await RawMember.open(t, sn.port, '::1')
  t.ok(isError(await second.register(newRecord(keys).record), ErrorCode.AddressFull), 'a second from ::/64: address-full')
  t.equal(sn.registry.sources.edgesFrom('0:0:0:0::/64'), 1, 'counted under the /64')
})

t.test("a stranger's RELAY meets the control rate limiter first, relies on nothing and gets at most one hint a second", async (t) => {
  const clock = new ManualClock(Date.now())
  const sn = await startSupernode(t, { controlRate: { perSecond: 50, burst: 100 } }, clock)
  const keys = new TestAuthority()
  const owner = await RawMember.open(t, sn.port, '127.0.0.31')
  const { record, edgeId } = newRecord(keys)
  t.equal((await owner.register(record)).type, PacketType.RegisterAck)

  const stranger = await RawMember.open(t, sn.port, '127.0.0.32')
  const FLOOD = 300
  for (let i = 0; i < FLOOD; i++) stranger.send(relayFrame(edgeId, 0, i + 1))
  await until('flood received', () => sn.drops['rate-limited'] + sn.drops['relay-wrong-source'] >= FLOOD)
  t.equal(sn.drops['relay-wrong-source'], 100, 'the control burst (100) reaches the relay check')
  t.equal(sn.drops['rate-limited'], FLOOD - 100, 'the rest is rate-limited before it')
  t.equal(sn.counters.relayedFrames, 0, 'nothing relayed')
  await until('hint received', () => stranger.received.length >= 1)
  t.ok(stranger.received.length <= ERROR_BURST, `${stranger.received.length} ERRORs back in the same second (the ERROR limit's burst is ${ERROR_BURST})`)
  t.ok(
    stranger.received.every((b) => b.length === 20 && b.subarray(4, 12).equals(NO_PROOF)),
    'each of 20 bytes (for frames of 144) and without proof: a hint',
  )

  owner.send(relayFrame(edgeId, 0, 1))
  await until('owner relayed', () => sn.counters.relayFramesIn === 1)
  t.pass("from its own endpoint, the owner's frame is taken for relay")
})

t.test('relayed frames do not keep a registration alive; keepalives do', async (t) => {
  const clock = new ManualClock(Date.now())
  const sn = await startSupernode(t, { keepaliveSeconds: 20, missedKeepalives: 3 }, clock)
  const keys = new TestAuthority()
  const member = await RawMember.open(t, sn.port, '127.0.0.41')
  const { record, edgeId } = newRecord(keys)
  t.equal((await member.register(record)).type, PacketType.RegisterAck)
  const registeredAt = sn.registry.edges.get(edgeId)!.lastSeen
  let counter = 0
  for (let second = 1; second <= 30; second++) {
    clock.jump(1000)
    member.send(relayFrame(edgeId, 0, ++counter))
  }
  await until('relayed', () => sn.counters.relayFramesIn === 30)
  t.equal(sn.registry.edges.get(edgeId)?.lastSeen, registeredAt, '30 s of relayed frames: last seen unchanged')
  member.send(encodeKeepalive(PacketType.Keepalive, edgeId, 77))
  await until('keepalive answered', () => sn.registry.edges.get(edgeId)!.lastSeen === clock.now())
  t.pass('a keepalive refreshes it')
  for (let second = 1; second <= 61; second++) {
    clock.jump(1000)
    member.send(relayFrame(edgeId, 0, ++counter))
  }
  await until('relayed', () => sn.counters.relayFramesIn === 91)
  await clock.advance(20_000)
  t.equal(sn.registry.edges.has(edgeId), false, 'relaying for 60 s without keepalives: expired')
  t.equal(sn.counters.expirations, 1)
})

t.test('relayed bytes out, fan-out included, are held to the source and community budgets', async (t) => {
  // the clock stands still: no budget refills during the test
  const clock = new ManualClock(Date.now())
  const budget = { perSecond: 10_000, burst: 10_000 }
  const sn = await startSupernode(t, { relayBytesPerSource: budget, relayBytesPerCommunity: { perSecond: 1e9, burst: 1e9 } }, clock)
  const keys = new TestAuthority()
  const [a, b, c] = (await registerMembers(t, sn.port, keys, ['127.0.0.51', '127.0.0.52', '127.0.0.53'])) as [Member, Member, Member]
  // a broadcast of 1,000 bytes to two others costs 2,000: five fit in 10,000
  const frame = 1000
  for (let i = 0; i < 8; i++) a.raw.send(relayFrame(a.edgeId, 0, i + 1, frame))
  await until('broadcasts received', () => sn.counters.relayFramesIn === 8)
  t.equal(sn.counters.relayedFrames, 10, 'five broadcasts went out, twice each')
  t.equal(sn.drops['relay-source-over-budget'], 3, 'three were not fanned out at all, and counted')
  t.equal(sn.counters.relayedBytes, 10_000, 'bytes out: exactly the budget')
  const relayed = (m: RawMember): number => m.received.filter((msg) => msg[1] === PacketType.Relay).length
  await until('delivered', () => relayed(b.raw) === 5 && relayed(c.raw) === 5)
  t.pass('each of the two others got five')
  // another source of the same community has a budget of its own
  b.raw.send(relayFrame(b.edgeId, c.edgeId, 1, frame))
  await until('unicast relayed', () => relayed(c.raw) === 6)
  t.equal(sn.drops['relay-source-over-budget'], 3, "another source's frame is not held by the first one's budget")

  // a community's budget holds all its sources together
  const tight = await startSupernode(t, { relayBytesPerSource: { perSecond: 1e9, burst: 1e9 }, relayBytesPerCommunity: budget }, clock)
  const keys2 = new TestAuthority()
  const [x, y] = (await registerMembers(t, tight.port, keys2, ['127.0.0.61', '127.0.0.62'])) as [Member, Member]
  for (let i = 0; i < 6; i++) x.raw.send(relayFrame(x.edgeId, y.edgeId, i + 1, frame))
  for (let i = 0; i < 6; i++) y.raw.send(relayFrame(y.edgeId, x.edgeId, i + 1, frame))
  await until('frames received', () => tight.counters.relayFramesIn === 12)
  t.equal(tight.counters.relayedBytes, 10_000, 'ten frames of 1,000 bytes from two sources: the community budget')
  t.equal(tight.drops['relay-community-over-budget'], 2, 'the other two counted')
})
