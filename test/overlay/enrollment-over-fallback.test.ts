// A technician whose network drops all UDP enrolls over the supernode's TLS WebSocket fallback, in
// one process: a real supernode on loopback with its WebSocket endpoint over TLS (a CA the test
// made), the device's edge on UDP, and the technician's EnrollmentClient behind a SimulatedNat that
// drops every datagram. The asks move to TLS after UDP's head start (as the supernode link does),
// the wait outlasts the listener's registration deadline on one connection, the owner's answer comes
// back over it, and the admitted edge reaches the device over TLS. UDP that comes back moves the asks
// back to UDP, the request going on. The supernode applies UDP's rules to asks over a WebSocket (the
// cookie bound to the connection, the per-source rate, the exchange table), and keeps an
// unregistered connection open only while it forwards asks from it. And the other way round: a
// device on the fallback admits a technician on UDP.
import { setImmediate as yieldToIo } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { generateIdentity } from '../../src/crypto/identity.js'
import { communityIdOf, edgeIdOf } from '../../src/crypto/keys.js'
import { openWebSocketCarrier } from '../../src/edge/edge.js'
import type { OpenEnrollmentFallback } from '../../src/edge/enrollment-carrier.js'
import { UDP_HEAD_START_MS, UDP_RETRY_ON_FALLBACK_MS } from '../../src/edge/supernode-link.js'
import { bindUdp } from '../../src/net/bind.js'
import { SimulatedNat } from '../../src/net/simulated-nat.js'
import { DEFAULT_WS_MAX_CONNECTIONS, DEFAULT_WS_MAX_PER_ADDRESS, REGISTER_WITHIN_MS } from '../../src/net/ws-listener.js'
import type { StreamCarrier } from '../../src/net/ws-carrier.js'
import type { Supernode } from '../../src/supernode/supernode.js'
import type { ManualClock } from '../../src/time/manual-clock.js'
import { EnrollStep, ErrorCode, PacketType, decodePacket, encodeEnrollAsk, encodeHello, type Packet } from '../../src/wire/index.js'
import { consentSession, reaches, until as untilClock } from '../fixtures/consent-session.js'
import { isRegistered, type TestEdgeOptions } from '../fixtures/overlay.js'
import { makePrivateCa } from '../fixtures/private-ca.js'

const ca = makePrivateCa(t, ['127.0.0.1'])
/** technicians' fallback dials under way (real TLS handshakes over loopback) */
let dialling = 0
const openFallback: OpenEnrollmentFallback = (url, drop) => {
  dialling++
  return openWebSocketCarrier(url, { ca: ca.caPem }, drop).finally(() => dialling--)
}

/** consent-session's until, the injected clock held while a technician's dial is under way (a dial takes no injected time) */
function until(clock: ManualClock, what: string, done: () => boolean, withinMs?: number): Promise<number> {
  return untilClock(clock, what, done, withinMs, () => dialling > 0)
}

/**
 * A session whose supernode also listens for WebSocket over TLS; its fallback URL. `deviceOnTls`:
 * the device's own UDP is dropped too, and it registers over the fallback.
 */
async function sessionWithFallback(t: Test, deviceOnTls = false) {
  const tls = { cert: Buffer.from(ca.cert), key: Buffer.from(ca.key) }
  const ws = { port: 0, bindAddress: '127.0.0.1', tls, trustProxy: false, maxConnections: DEFAULT_WS_MAX_CONNECTIONS, maxPerAddress: DEFAULT_WS_MAX_PER_ADDRESS }
  const fallbackOf = (sn: Supernode): URL => new URL(`wss://127.0.0.1:${sn.tcpPort}/overlan`)
  const onTls = (sn: Supernode): TestEdgeOptions => ({ nat: blockedNat(), supernodes: [{ host: '127.0.0.1', port: sn.port, fallback: fallbackOf(sn) }], fallback: { ca: ca.caPem } })
  const s = await consentSession(t, { ws }, deviceOnTls ? onTls : () => ({}))
  const url = fallbackOf(s.sn)
  const websocket = () => s.sn.status().websocket!
  return { ...s, url, websocket }
}

/** A NAT that drops every datagram (until the test sets `block` to null). */
function blockedNat(): SimulatedNat {
  const nat = new SimulatedNat('cone')
  nat.block = () => true
  return nat
}

/** A technician's socket behind a NAT of its own that drops every datagram. */
function udpBlockingNat(host: number): { nat: SimulatedNat; transport: ReturnType<SimulatedNat['attach']> } {
  const nat = blockedNat()
  return { nat, transport: nat.attach(`10.0.${host}.2`, 41000 + host) }
}

t.test('UDP dropped: the technician enrolls over TLS after the head start, waits past the registration deadline on one connection, is admitted, and its edge reaches the device over TLS', async (t) => {
  const s = await sessionWithFallback(t)
  const { nat, transport } = udpBlockingNat(201)
  const alice = await s.ask('alice', { transport, fallbacks: [s.url], openFallback })
  const movedMs = await until(s.clock, 'the asks go over TLS', () => alice.client.transport === 'tls')
  t.ok(movedMs >= UDP_HEAD_START_MS, `the asks moved to TLS ${movedMs} ms after the start, not before UDP's head start (${UDP_HEAD_START_MS} ms)`)
  t.ok(nat.dropped.blocked >= 1, `UDP was tried first (${nat.dropped.blocked} datagrams dropped by the NAT)`)
  t.match(alice.notices.join('\n'), /no UDP answer from supernode 127\.0\.0\.1:\d+ within 1 s: asking over wss:\/\/127\.0\.0\.1:\d+\/overlan \(tls\)/, 'one line says so')

  await until(s.clock, 'the device is asked', () => s.decider.requests.length > 0)
  const request = s.decider.requests[0]!
  t.equal(request.fingerprint, alice.fingerprint, "the technician's key, proven by the handshake over TLS")
  t.equal(request.name, 'alice')
  // the supernode saw the TCP connection, not the NAT's UDP mapping
  t.match(request.address, /^127\.0\.0\.1:\d+$/, `where it came from, as the supernode saw it (${request.address})`)

  // the owner takes a while: longer than an unregistered WebSocket is kept without asks
  const waitedBefore = alice.waited.length
  await s.clock.advance(2 * REGISTER_WITHIN_MS)
  t.ok(alice.waited.length - waitedBefore >= 15, `still polling after ${(2 * REGISTER_WITHIN_MS) / 1000} s (${alice.waited.length - waitedBefore} waiting answers)`)
  t.equal(s.websocket().refused.unregistered, 0, 'the connection carrying the asks is not cut as unregistered')
  t.equal(alice.client.carrier.opened, 1, 'one connection throughout')
  t.equal(alice.client.transport, 'tls')

  const certificate = s.certify(alice.identity.publicKey, '10.9.0.2', 0x02)
  s.decider.answers.set(alice.fingerprint, { state: 'admitted', certificate })
  const admittedMs = await until(s.clock, 'admitted', () => alice.outcome() !== null)
  t.ok(admittedMs <= 1_500, `admission reaches the technician over TLS ${admittedMs} ms after the decision`)
  const outcome = alice.outcome()!
  t.ok(outcome.state === 'admitted' && outcome.certificate.equals(certificate), 'with the certificate the decider issued')
  await until(s.clock, 'the enrollment connection closed', () => s.websocket().connections === 0)
  t.ok(s.sn.counters.enrollAsksForwarded >= 15 && s.sn.counters.enrollAnswersForwarded >= 15, `asks and answers forwarded between TLS and UDP (${s.sn.counters.enrollAsksForwarded} and ${s.sn.counters.enrollAnswersForwarded})`)

  // the admitted edge, behind the same kind of NAT, with the token's fallback
  const tech = await s.join(alice.identity, certificate, 0x02, { nat: blockedNat(), supernodes: [{ host: '127.0.0.1', port: s.sn.port, fallback: s.url }], fallback: { ca: ca.caPem } })
  await until(s.clock, 'the technician registered', () => isRegistered(tech))
  t.equal(tech.edge.status().supernodes[0]!.transport, 'tls', 'registered over TLS')
  t.ok(await reaches(s.clock, tech, s.device), 'the technician reaches the device')
  t.ok(await reaches(s.clock, s.device, tech), 'and the device the technician')
})

t.test('UDP comes back while the technician waits: the asks move back to UDP, the same request goes on, and the connection is closed', async (t) => {
  const s = await sessionWithFallback(t)
  const { nat, transport } = udpBlockingNat(202)
  const ben = await s.ask('ben', { transport, fallbacks: [s.url], openFallback })
  await until(s.clock, 'waiting over TLS', () => ben.client.transport === 'tls' && ben.waited.length >= 2)
  nat.block = null
  const backMs = await until(s.clock, 'the asks back on UDP', () => ben.client.transport === 'udp', UDP_RETRY_ON_FALLBACK_MS + 2_000)
  t.ok(backMs <= UDP_RETRY_ON_FALLBACK_MS + 1_000, `back on UDP ${backMs} ms after UDP returned (HELLO over UDP every ${UDP_RETRY_ON_FALLBACK_MS} ms)`)
  t.match(ben.notices.join('\n'), /answers over UDP again: asking over UDP/)
  const waitedOnTls = ben.waited.length
  await until(s.clock, 'waiting over UDP', () => ben.waited.length >= waitedOnTls + 2)
  t.same([...new Set(s.decider.requests.map((r) => r.fingerprint))], [ben.fingerprint], "the device saw one technician's key throughout")
  await until(s.clock, 'the connection closed', () => s.websocket().connections === 0)
  s.decider.answers.set(ben.fingerprint, { state: 'denied' })
  await until(s.clock, 'denied', () => ben.outcome() !== null, 5_000)
  t.same(ben.outcome(), { state: 'denied' }, 'the decision reaches it over UDP')
})

t.test('asks for a device that is not online do not keep a WebSocket open: it is cut as unregistered and dialled again', async (t) => {
  const s = await sessionWithFallback(t)
  const { transport } = udpBlockingNat(203)
  // a token of another device: the supernode knows no such edge
  const elsewhere = { ...s.token, deviceKey: Buffer.from(generateIdentity().publicKey) }
  const carl = await s.ask('carl', { transport, fallbacks: [s.url], openFallback, token: elsewhere })
  await until(s.clock, 'asking over TLS', () => carl.client.transport === 'tls')
  await until(s.clock, 'told the device is not online', () => carl.notices.some((l) => /is not online/.test(l)))
  await until(s.clock, 'cut as unregistered', () => (s.websocket().refused.unregistered ?? 0) >= 1, REGISTER_WITHIN_MS + 3_000)
  t.equal(s.sn.counters.enrollAsksForwarded, 0, 'nothing was forwarded')
  t.ok(s.sn.drops['enroll-unknown-device'] >= 1, `asks refused as enroll-unknown-device (${s.sn.drops['enroll-unknown-device']})`)
  await until(s.clock, 'dialled again', () => carl.client.carrier.opened >= 2 && carl.client.transport === 'tls', 10_000)
  t.match(carl.notices.join('\n'), /fallback wss:\/\/127\.0\.0\.1:\d+\/overlan closed .*: asking again/, 'the technician says the connection closed and asks again')
})

/** The cookie of the first COOKIE among `packets`. */
function cookieIn(packets: Packet[]): Buffer {
  for (const p of packets) if (p.type === PacketType.Cookie) return p.cookie
  throw new Error('no COOKIE')
}

/** Lets loopback I/O happen without moving the injected clock, until `done` (bounded in real time). */
async function ioUntil(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 10 s of real time`)
    await yieldToIo()
  }
}

/** A raw connection to the fallback, its datagrams decoded as they come. */
async function rawConnection(t: Test, url: URL): Promise<{ stream: StreamCarrier; received: Packet[] }> {
  const stream = await openFallback(url, () => {})
  t.teardown(() => stream.close())
  const received: Packet[] = []
  stream.onDatagram((msg) => {
    const d = decodePacket(msg)
    if (d.ok) received.push(d.value)
  })
  return { stream, received }
}

t.test("asks over a WebSocket meet UDP's rules: a cookie bound to its connection, the exchange table, the per-source rate", async (t) => {
  const s = await sessionWithFallback(t)
  const communityId = communityIdOf(s.token.authorityKey)
  const deviceId = edgeIdOf(s.token.deviceKey)
  const nonce = Buffer.alloc(8, 7)
  const ask = (cookie: Buffer, exchange: Buffer): Buffer => encodeEnrollAsk({ clientNonce: nonce, cookie, communityId, deviceId, exchange, step: EnrollStep.Hello, message: Buffer.alloc(48, 0x11) })
  const send = (stream: StreamCarrier, buf: Buffer): void => stream.send(buf, 0, buf.length, 0, '')

  // a UDP asker holds an exchange; its cookie is for its UDP socket
  const udp = await bindUdp({ address: '127.0.0.1', port: 0 })
  t.teardown(() => udp.close())
  const udpPackets: Packet[] = []
  udp.onDatagram((msg) => {
    const d = decodePacket(msg)
    if (d.ok) udpPackets.push(d.value)
  })
  const hello = encodeHello(nonce)
  udp.send(hello, 0, hello.length, s.sn.port, '127.0.0.1')
  await until(s.clock, 'a UDP cookie', () => udpPackets.some((p) => p.type === PacketType.Cookie))
  const udpCookie = cookieIn(udpPackets)
  const held = Buffer.alloc(8, 0xe1)
  const forwarded = s.sn.counters.enrollAsksForwarded
  const askUdp = ask(udpCookie, held)
  udp.send(askUdp, 0, askUdp.length, s.sn.port, '127.0.0.1')
  await until(s.clock, 'the UDP ask forwarded', () => s.sn.counters.enrollAsksForwarded === forwarded + 1)

  const { stream, received } = await rawConnection(t, s.url)
  send(stream, ask(udpCookie, Buffer.alloc(8, 0xe2)))
  await until(s.clock, 'refused', () => received.some((p) => p.type === PacketType.Error))
  t.match(received.find((p) => p.type === PacketType.Error), { code: ErrorCode.BadCookie }, "the UDP socket's cookie is refused over the WebSocket: ERROR bad-cookie")
  t.equal(s.sn.counters.enrollAsksForwarded, forwarded + 1, 'and nothing forwarded')

  send(stream, encodeHello(nonce))
  await until(s.clock, 'a cookie over the WebSocket', () => received.some((p) => p.type === PacketType.Cookie))
  const wsCookie = cookieIn(received)
  const takenBefore = s.sn.drops['enroll-exchange-taken']
  const handled = (): number => s.sn.drops['enroll-exchange-taken'] + s.sn.drops['enroll-rate-limited'] + s.sn.counters.enrollAsksForwarded
  const handledBefore = handled()
  send(stream, ask(wsCookie, held))
  await ioUntil('the ask handled', () => handled() > handledBefore)
  t.equal(s.sn.drops['enroll-exchange-taken'], takenBefore + 1, 'an exchange the UDP asker holds is refused over the WebSocket (enroll-exchange-taken)')

  // the source's bucket (5/s, burst 10: one address for its UDP and its TCP) fills up again; then
  // 20 asks at one instant of the clock: 10 pass, 10 are over the rate
  await s.clock.advance(3_000)
  const limitedBefore = s.sn.drops['enroll-rate-limited']
  const forwardedBefore = s.sn.counters.enrollAsksForwarded
  for (let i = 0; i < 20; i++) send(stream, ask(wsCookie, Buffer.from([0xf0, i, 0, 0, 0, 0, 0, 1])))
  await ioUntil('the burst handled', () => s.sn.drops['enroll-rate-limited'] + s.sn.counters.enrollAsksForwarded - limitedBefore - forwardedBefore === 20)
  const limited = s.sn.drops['enroll-rate-limited'] - limitedBefore
  t.equal(limited, 10, `asks over the source's rate dropped as enroll-rate-limited (${limited} of 20)`)
  t.equal(s.sn.counters.enrollAsksForwarded - forwardedBefore, 10, 'the burst of 10 forwarded')
  const refusedAtDevice = (): number => s.device.edge.status().enrollment!.drops['handshake-decrypt-failed'] ?? 0
  await until(s.clock, 'the device refused them', () => refusedAtDevice() >= 10, 3_000).catch(() => {})
  t.ok(refusedAtDevice() >= 10, `what was forwarded reached the device, which refused it at message 1 without the secret (${refusedAtDevice()})`)
})

t.test('the device itself on the fallback (its UDP dropped): a UDP technician is forwarded to it over TLS and answered', async (t) => {
  const s = await sessionWithFallback(t, true)
  t.equal(s.device.edge.status().supernodes[0]!.transport, 'tls', 'the device is registered over TLS')
  const dana = await s.ask('dana')
  await until(s.clock, 'waiting', () => dana.waited.length >= 2)
  t.equal(dana.client.transport, 'udp', 'the technician asks over UDP')
  t.equal(s.decider.requests[0]?.fingerprint, dana.fingerprint, "the device's decider is asked, over its TLS connection")
  const certificate = s.certify(dana.identity.publicKey, '10.9.0.4', 0x04)
  s.decider.answers.set(dana.fingerprint, { state: 'admitted', certificate })
  await until(s.clock, 'admitted', () => dana.outcome() !== null)
  t.equal(dana.outcome()?.state, 'admitted', 'the answer comes back from the TLS device to the UDP technician')
})
