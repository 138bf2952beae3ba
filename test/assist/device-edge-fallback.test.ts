// The assistance device is the party most likely to sit on a network that blocks UDP: its edge
// (startSessionEdge, as `overlan assist` starts it) takes the service's --fallback URLs, paired with
// its supernodes as `overlan edge` pairs them, and registers over TLS by itself when UDP is dropped.
// In-process: a supernode with its WebSocket endpoint over TLS (a CA the test made), the device
// behind a simulated NAT that drops every UDP datagram, an injected clock.
import t from 'tap'
import { startSessionEdge } from '../../src/assist/device-edge.js'
import { secretMemory } from '../../src/crypto/secure-memory.js'
import { TICK_MS } from '../../src/edge/edge.js'
import { UDP_HEAD_START_MS } from '../../src/edge/supernode-link.js'
import { SimulatedNat } from '../../src/net/simulated-nat.js'
import { DEFAULT_WS_MAX_CONNECTIONS, DEFAULT_WS_MAX_PER_ADDRESS } from '../../src/net/ws-listener.js'
import { MemoryTap } from '../../src/tap/memory-tap.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { startSupernode } from '../fixtures/overlay.js'
import { deviceEdgeConfig } from '../fixtures/enrollment.js'
import { makePrivateCa } from '../fixtures/private-ca.js'

const ca = makePrivateCa(t, ['127.0.0.1'])

t.test("UDP blocked at the device: its session edge registers over the service's TLS fallback", async (t) => {
  const clock = new ManualClock()
  const tls = { cert: Buffer.from(ca.cert), key: Buffer.from(ca.key) }
  const sn = await startSupernode(t, { ws: { port: 0, bindAddress: '127.0.0.1', tls, trustProxy: false, maxConnections: DEFAULT_WS_MAX_CONNECTIONS, maxPerAddress: DEFAULT_WS_MAX_PER_ADDRESS } }, clock)
  const nat = new SimulatedNat('cone')
  nat.block = () => true // the customer's network drops all UDP
  const mac = Buffer.from([0x02, 0, 0, 0, 0, 0x41])
  const edge = await startSessionEdge(
    deviceEdgeConfig(t, {
      mac,
      identity: secretMemory.copyOf(Buffer.alloc(32, 0x41)),
      supernodes: [{ host: '127.0.0.1', port: sn.port }],
      fallbacks: [`wss://127.0.0.1:${sn.tcpPort}/overlan`],
      overlay: { address: '10.99.0.1', prefix: 24 },
      expiresAt: clock.now() + 3_600_000,
    }),
    { fallback: { ca: ca.caPem }, mgmt: null },
    { tap: new MemoryTap('dev-fallback', mac), clock, transport: nat.attach('10.0.99.2', 40099) },
  )
  t.teardown(() => edge.stop('test over'))

  const start = clock.now()
  const realDeadline = Date.now() + 30_000
  const link = (): { registered: boolean; transport: string; fallback: string | null } => edge.status().supernodes[0]!
  while (!link().registered && clock.now() - start <= 10_000 && Date.now() < realDeadline) {
    await clock.advance(TICK_MS)
    await new Promise((resolve) => setImmediate(resolve)) // a real turn for loopback TCP
  }
  t.ok(link().registered, 'the device edge is registered')
  t.equal(link().transport, 'tls', 'over the WebSocket over TLS')
  t.equal(link().fallback, `wss://127.0.0.1:${sn.tcpPort}/overlan`, 'the fallback it was given, paired with its supernode')
  t.ok(clock.now() - start >= UDP_HEAD_START_MS, "only after UDP's head start")
  t.ok(nat.dropped.blocked > 0, 'its UDP was tried and dropped')
  t.equal(sn.status().edges.length, 1, 'the supernode holds the device')
})
