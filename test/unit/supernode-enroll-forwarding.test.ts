// ENROLL at the supernode (in memory, injected clock): an ask is forwarded to the registered device
// only from an address that proved itself with a cookie; the device's answer goes only back to the
// address that asked under that exchange within 30 s; everything else is dropped and counted by reason;
// asks are rate-limited per source address and per device; the exchange table is bounded.
import t, { type Test } from 'tap'
import { ENROLL_ANSWER_WINDOW_MS, EnrollExchanges } from '../../src/supernode/enroll-exchanges.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import {
  EnrollKind,
  EnrollStep,
  ErrorCode,
  PacketType,
  decodePacket,
  encodeEnrollAnswer,
  encodeEnrollAsk,
  encodeHello,
  encodeRegister,
  type Packet,
} from '../../src/wire/index.js'
import { supernodeInMemory } from '../fixtures/supernode-start.js'
import { TestAuthority } from '../fixtures/supernode-members.js'

const DEVICE = { address: '127.0.0.50', port: 4000 }
const TECH = { address: '127.0.0.60', port: 5000 }

function decoded(buf: Buffer | null): Packet {
  if (buf === null) throw new Error('no answer')
  const d = decodePacket(buf)
  if (!d.ok) throw new Error(d.reason)
  return d.value
}

async function setup(t: Test, config = {}) {
  const clock = new ManualClock(Date.now())
  const sn = await supernodeInMemory(t, config, clock)
  const community = new TestAuthority()
  const device = community.issue({ role: 'device' })
  const nonce = Buffer.alloc(8, 1)
  const cookie = decoded(sn.receive(encodeHello(nonce), DEVICE.address, DEVICE.port))
  if (cookie.type !== PacketType.Cookie) throw new Error('cookie')
  t.equal(decoded(sn.receive(encodeRegister(nonce, cookie.cookie, device.announce()), DEVICE.address, DEVICE.port)).type, PacketType.RegisterAck, 'the device is registered')
  /** HELLO from `from`, then an ask under `exchange` with the cookie it got (or `cookieFrom`'s) */
  const cookieFor = (from: { address: string; port: number }): Buffer => {
    const c = decoded(sn.receive(encodeHello(Buffer.alloc(8, 7)), from.address, from.port))
    if (c.type !== PacketType.Cookie) throw new Error('cookie')
    return c.cookie
  }
  const ask = (from: { address: string; port: number }, exchange: Buffer, cookie = cookieFor(from), communityId = community.communityId, deviceId = device.edgeId): Buffer | null =>
    sn.receive(encodeEnrollAsk({ clientNonce: Buffer.alloc(8, 7), cookie, communityId, deviceId, exchange, step: EnrollStep.Hello, message: Buffer.alloc(48, 0x11) }), from.address, from.port)
  const answer = (exchange: Buffer, from = DEVICE): Buffer | null =>
    sn.receive(encodeEnrollAnswer({ deviceId: device.edgeId, exchange, step: EnrollStep.Challenge, message: Buffer.alloc(96, 0x22) }), from.address, from.port)
  return { sn, clock, community, device, ask, answer, cookieFor }
}

t.test('a cookie-proved ask reaches the device with where it came from; the answer goes back to that address only', async (t) => {
  const { sn, ask, answer } = await setup(t)
  const exchange = Buffer.alloc(8, 0xe1)
  const offer = decoded(ask(TECH, exchange))
  t.match(offer, { type: PacketType.Enroll, kind: EnrollKind.Offer, from: { address: TECH.address, port: TECH.port }, step: EnrollStep.Hello })
  t.same(sn.sent.at(-1)!.address, DEVICE.address, 'sent to the device')
  t.equal(sn.sent.at(-1)!.port, DEVICE.port)
  const reply = decoded(answer(exchange))
  t.match(reply, { type: PacketType.Enroll, kind: EnrollKind.Reply, step: EnrollStep.Challenge })
  t.same([sn.sent.at(-1)!.address, sn.sent.at(-1)!.port], [TECH.address, TECH.port], 'the reply goes to the technician')
  t.equal(sn.node.counters.enrollAsksForwarded, 1)
  t.equal(sn.node.counters.enrollAnswersForwarded, 1)
})

t.test('a stranger without a good cookie gets nothing forwarded', async (t) => {
  const { sn, ask, cookieFor } = await setup(t)
  const before = sn.sent.length
  const refused = decoded(ask(TECH, Buffer.alloc(8, 1), Buffer.alloc(20, 0x33)))
  t.match(refused, { type: PacketType.Error, code: ErrorCode.BadCookie }, 'a made-up cookie: an ERROR with its nonce, nothing to the device')
  // a spoofed source: the cookie went to the real address, the ask claims another
  const stolen = cookieFor(TECH)
  ask({ address: '127.0.0.61', port: 5000 }, Buffer.alloc(8, 2), stolen)
  t.equal(sn.node.drops['bad-cookie'], 2)
  t.notOk(sn.sent.slice(before).some((s) => s.address === DEVICE.address), 'the device was sent nothing')
  t.equal(sn.node.counters.enrollAsksForwarded, 0)
})

t.test('answers go nowhere unless their exchange was asked within 30 s, and only from the device', async (t) => {
  const { sn, clock, ask, answer } = await setup(t)
  t.equal(answer(Buffer.alloc(8, 9)), null, 'an answer nobody asked for: nothing sent')
  t.equal(sn.node.drops['enroll-unasked'], 1)
  const exchange = Buffer.alloc(8, 0xe2)
  ask(TECH, exchange)
  t.equal(answer(exchange, { address: '127.0.0.70', port: 4000 }), null, 'an answer from somewhere else than the device')
  t.equal(sn.node.drops['enroll-not-device'], 1)
  await clock.advance(ENROLL_ANSWER_WINDOW_MS - 1, 1000)
  t.ok(answer(exchange), 'within the window: forwarded')
  await clock.advance(1)
  t.equal(answer(exchange), null, '30 s after the last ask: dropped')
  t.equal(sn.node.drops['enroll-unasked'], 2)
})

t.test('an exchange held by one technician cannot be taken by another address; unknown devices and communities are refused', async (t) => {
  const { sn, ask, device } = await setup(t)
  const exchange = Buffer.alloc(8, 0xe3)
  ask(TECH, exchange)
  t.equal(ask({ address: '127.0.0.62', port: 5000 }, exchange), null)
  t.equal(sn.node.drops['enroll-exchange-taken'], 1, 'taken: the second asker is refused, the answers still go to the first')
  const otherCommunity = new TestAuthority().communityId
  t.match(decoded(ask(TECH, Buffer.alloc(8, 4), undefined, otherCommunity)), { type: PacketType.Error, code: ErrorCode.UnknownPeer }, 'the device is not in that community')
  t.match(decoded(ask(TECH, Buffer.alloc(8, 5), undefined, undefined, device.edgeId + 1)), { type: PacketType.Error, code: ErrorCode.UnknownPeer }, 'no such device')
  t.equal(sn.node.drops['enroll-unknown-device'], 2)
})

t.test('asks are limited per source address and per device', async (t) => {
  const { sn, ask } = await setup(t, { enrollRatePerSource: { perSecond: 5, burst: 10 }, enrollRatePerDevice: { perSecond: 20, burst: 25 } })
  for (let i = 0; i < 30; i++) ask({ address: TECH.address, port: 6000 + i }, Buffer.from([1, 0, 0, 0, 0, 0, 0, i]))
  t.equal(sn.node.counters.enrollAsksForwarded, 10, 'one address, many ports: its burst of 10 only')
  t.equal(sn.node.drops['enroll-rate-limited'], 20)
  for (let i = 0; i < 30; i++) ask({ address: `127.0.1.${i + 1}`, port: 7000 }, Buffer.from([2, 0, 0, 0, 0, 0, 0, i]))
  t.equal(sn.node.counters.enrollAsksForwarded, 25, 'many addresses: the device gets its burst of 25 in all')
  t.equal(sn.node.drops['enroll-device-rate-limited'], 15)
})

t.test('the exchange table: bounded, an old silent ask gives way, live asks are not pushed out', (t) => {
  const table = new EnrollExchanges(3)
  const ex = (i: number): Buffer => Buffer.from([i, 0, 0, 0, 0, 0, 0, 0])
  for (let i = 0; i < 3; i++) t.equal(table.note(1, ex(i), '127.0.0.1', 1000 + i, 0), 'noted')
  t.equal(table.note(1, ex(9), '127.0.0.1', 2000, 1000), 'full', 'three live asks: a fourth is refused')
  t.equal(table.note(1, ex(0), '127.0.0.1', 1000, 5000), 'noted', 'an asker asking again is moved to the end')
  t.equal(table.note(1, ex(9), '127.0.0.1', 2000, ENROLL_ANSWER_WINDOW_MS + 1), 'noted', 'the oldest silent one gave way')
  t.equal(table.size, 3)
  t.equal(table.askerOf(1, ex(1), ENROLL_ANSWER_WINDOW_MS + 1), null, 'the one that gave way is gone')
  t.match(table.askerOf(1, ex(0), ENROLL_ANSWER_WINDOW_MS + 1), { route: 1000 }, 'the one that asked again stays')
  t.end()
})
