// 10,000 ENROLL asks at a device through a real supernode on loopback, from 100 sockets on 50
// addresses (each with a good cookie, so every one gets past the cookie check), plus a burst with
// forged cookies: the supernode forwards at most the device's rate limit, its exchange table stays
// within its bound, the forged ones reach nothing, and the device refuses every forwarded ask at
// message 1 (no secret) without the decider ever hearing of it. Time is the injected clock's: the
// flood lasts 5 s of it, so the bound is the per-device burst plus 5 s of its rate.
import { createSocket, type Socket } from 'node:dgram'
import t from 'tap'
import { generateAuthority, issueCertificate } from '../../src/crypto/certificate.js'
import { generateIdentity } from '../../src/crypto/identity.js'
import { MAX_ENROLL_EXCHANGES } from '../../src/supernode/enroll-exchanges.js'
import { DEFAULT_SUPERNODE_CONFIG } from '../../src/supernode/supernode.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { EnrollStep, PacketType, decodePacket, encodeEnrollAsk, encodeHello } from '../../src/wire/index.js'
import { mac } from '../fixtures/frames.js'
import { isRegistered, startEdge, startSupernode } from '../fixtures/overlay.js'

const ADDRESSES = 50
const PORTS_PER_ADDRESS = 2
const ASKS = 10_000
const FLOOD_MS = 5_000
const FORGED = 1_000

t.test(`${ASKS} asks from ${ADDRESSES * PORTS_PER_ADDRESS} sockets: the device sees at most its rate limit, the supernode stays bounded`, async (t) => {
  const clock = new ManualClock(Date.now())
  const sn = await startSupernode(t, {}, clock)
  const authority = generateAuthority()
  const identity = generateIdentity()
  const nowS = Math.floor(clock.now() / 1000)
  const certificate = issueCertificate(authority, { role: 'device', serial: 1, notBefore: nowS - 60, notAfter: nowS + 3600, memberKey: identity.publicKey, mac: mac(0x42), ipv4: { address: '10.9.0.1', prefix: 24 }, ipv6: null, name: 'device' })
  let decided = 0
  const device = await startEdge(t, [sn], {
    clock,
    keys: undefined,
    identity,
    certificate,
    macByte: 0x42,
    overlay: { address: '10.9.0.1', prefix: 24 },
    enrollment: { secret: Buffer.alloc(32, 9), decider: { request: () => (decided++, { state: 'waiting' }), gone: () => {} } },
  })
  while (!isRegistered(device)) await clock.advance(50)
  const deviceId = device.edge.edgeId

  // the attackers: each socket fetches a cookie of its own, then asks under fresh exchanges
  const sockets: { socket: Socket; cookie: Buffer | null }[] = []
  for (let a = 0; a < ADDRESSES; a++) {
    for (let p = 0; p < PORTS_PER_ADDRESS; p++) {
      const socket = createSocket('udp4')
      t.teardown(() => socket.close())
      await new Promise<void>((resolve) => socket.bind(0, `127.0.3.${a + 1}`, resolve))
      const entry = { socket, cookie: null as Buffer | null }
      socket.on('message', (msg) => {
        const d = decodePacket(msg)
        if (d.ok && d.value.type === PacketType.Cookie) entry.cookie = Buffer.from(d.value.cookie)
      })
      sockets.push(entry)
    }
  }
  const nonce = Buffer.alloc(8, 3)
  for (const s of sockets) s.socket.send(encodeHello(nonce), sn.port, '127.0.0.1')
  while (sockets.some((s) => s.cookie === null)) await clock.advance(10, 10)

  const heapBefore = process.memoryUsage().heapUsed
  const exchange = Buffer.alloc(8)
  const perStep = ASKS / (FLOOD_MS / 50)
  for (let i = 0; i < ASKS; i++) {
    const s = sockets[i % sockets.length]!
    exchange.writeUInt32BE(i, 4)
    s.socket.send(encodeEnrollAsk({ clientNonce: nonce, cookie: s.cookie!, communityId: authority.communityId, deviceId, exchange, step: EnrollStep.Hello, message: Buffer.alloc(48, i & 0xff) }), sn.port, '127.0.0.1')
    if ((i + 1) % perStep === 0) await clock.advance(50)
  }
  // strangers: cookies they never got
  for (let i = 0; i < FORGED; i++) {
    exchange.writeUInt32BE(ASKS + i, 4)
    sockets[i % sockets.length]!.socket.send(
      encodeEnrollAsk({ clientNonce: nonce, cookie: Buffer.alloc(20, i & 0xff), communityId: authority.communityId, deviceId, exchange, step: EnrollStep.Hello, message: Buffer.alloc(48) }),
      sn.port,
      '127.0.0.1',
    )
  }
  const received = (): number => sn.counters.packetsIn
  let last = -1
  while (received() !== last) {
    last = received()
    await clock.advance(100, 100)
  }

  const forwarded = sn.counters.enrollAsksForwarded
  const limit = DEFAULT_SUPERNODE_CONFIG.enrollRatePerDevice
  const bound = limit.burst + (limit.perSecond * (FLOOD_MS + 1_000)) / 1000
  t.comment(`forwarded ${forwarded} of ${ASKS} good-cookie asks (bound ${bound}); drops ${JSON.stringify(Object.fromEntries(Object.entries(sn.drops).filter(([, n]) => n > 0)))}`)
  t.ok(forwarded > 0, 'some asks reached the device (the flood is real)')
  t.ok(forwarded <= bound, `the device was sent at most its rate limit: ${forwarded} ≤ ${bound}`)
  t.equal(sn.drops['bad-cookie'], FORGED, 'every forged cookie refused, nothing forwarded for them')
  t.ok(sn.drops['enroll-rate-limited'] + sn.drops['enroll-device-rate-limited'] + sn.drops['rate-limited'] >= ASKS - forwarded - 200, 'the rest was refused by the rate limits and counted')
  t.ok(sn.enrollExchanges.size <= MAX_ENROLL_EXCHANGES, `the exchange table holds ${sn.enrollExchanges.size} ≤ ${MAX_ENROLL_EXCHANGES}`)
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore
  t.ok(heapGrowth < 64 * 2 ** 20, `heap grew ${(heapGrowth / 2 ** 20).toFixed(1)} MiB in all (supernode, device and attackers in one process)`)
  const desk = device.edge.status().enrollment!
  t.equal(desk.drops['handshake-decrypt-failed'], forwarded, 'the device refused each forwarded ask at message 1 (no secret)')
  t.equal(desk.exchanges, 0, 'and keeps nothing for them')
  t.equal(decided, 0, 'the decider never heard of any')
})
