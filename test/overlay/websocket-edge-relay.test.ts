// A WebSocket connection is one more kind of endpoint: an edge whose network blocks UDP registers
// over a WebSocket (plain, and over TLS with a certificate made here), and it and a UDP edge of the
// same community reach each other through the relay, both ways. The supernode never hands the
// WebSocket endpoint to the UDP edge as something to punch toward.
import { createSocket } from 'node:dgram'
import t from 'tap'
import type { Test } from 'tap'
import { DEFAULT_WS_MAX_CONNECTIONS, DEFAULT_WS_MAX_PER_ADDRESS } from '../../src/net/ws-listener.js'
import type { Supernode } from '../../src/supernode/supernode.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { PacketType, SessionKind, decodePacket, encodeHello } from '../../src/wire/index.js'
import { WebSocket } from 'ws'
import { ipv4Frame } from '../fixtures/frames.js'
import { peerOf, registered, startEdge, startSupernode, until, type TestEdge } from '../fixtures/overlay.js'
import { RecordingTransport } from '../fixtures/recording-transport.js'
import { selfSigned } from '../fixtures/self-signed.js'
import { WsTunnelTransport } from '../fixtures/ws-tunnel-transport.js'

function wsConfig(tls: { cert: Buffer; key: Buffer } | null) {
  return { port: 0, bindAddress: '127.0.0.1', tls, trustProxy: false, maxConnections: DEFAULT_WS_MAX_CONNECTIONS, maxPerAddress: DEFAULT_WS_MAX_PER_ADDRESS }
}

/** A real Edge whose every datagram to the supernode rides a WebSocket (UDP to anyone else is blocked). */
async function wsEdge(t: Test, sn: Supernode, scheme: 'ws' | 'wss', ca?: Buffer): Promise<TestEdge & { tunnel: WsTunnelTransport }> {
  const tunnel = await WsTunnelTransport.open(`${scheme}://127.0.0.1:${sn.tcpPort}/overlan`, { address: '127.0.0.1', port: sn.port }, { ca })
  const e = await startEdge(t, [sn], { transport: tunnel })
  return { ...e, tunnel }
}

async function relayBothWays(t: Test, udp: TestEdge, ws: TestEdge, sn: Supernode): Promise<void> {
  const relayedBefore = sn.counters.relayedFrames
  const sizes = [60, 98, 512, 1000, udp.tap.mtu + 14]
  for (const size of sizes) udp.tap.inject(ipv4Frame(ws.tap.mac, udp.tap.mac, udp.edge.overlay!.address, ws.edge.overlay!.address, size, size & 0xff))
  await ws.tap.waitForWritten(sizes.length)
  t.same(ws.tap.written.map((f) => f.length), sizes, 'every frame from the UDP edge arrives at the WebSocket edge, in order')
  for (const size of sizes) ws.tap.inject(ipv4Frame(udp.tap.mac, ws.tap.mac, ws.edge.overlay!.address, udp.edge.overlay!.address, size, size & 0xff))
  await udp.tap.waitForWritten(sizes.length)
  t.same(udp.tap.written.map((f) => f.length), sizes, 'and every frame back')
  t.ok(udp.tap.written.every((f, i) => f[40] === (sizes[i]! & 0xff)), 'payload bytes intact')
  t.ok(sn.counters.relayedFrames - relayedBefore >= 2 * sizes.length, `through the relay (${sn.counters.relayedFrames - relayedBefore} frames relayed)`)
}

for (const scheme of ['ws', 'wss'] as const) {
  t.test(`a ${scheme === 'ws' ? 'plain' : 'TLS'} WebSocket edge and a UDP edge reach each other through the relay`, async (t) => {
    const cert = scheme === 'wss' ? selfSigned(t) : null
    const tls = cert === null ? null : { cert: cert.cert, key: cert.key }
    const sn = await startSupernode(t, { ws: wsConfig(tls) })
    const recording = await RecordingTransport.open()
    const udp = await startEdge(t, [sn], { transport: recording })
    const ws = await wsEdge(t, sn, scheme, tls?.cert)
    await Promise.all([registered(udp), registered(ws)])

    const status = sn.status()
    const kind = scheme === 'ws' ? 'ws' : 'tls'
    t.same(status.edges.map((e) => e.transport).sort(), [kind, 'udp'].sort(), `/status says each edge's transport (${kind} and udp)`)
    t.match(status.websocket, { transport: kind, connections: 1, pending: 0, accepted: 1 })

    await relayBothWays(t, udp, ws, sn)

    // what the UDP edge was told of its peer (PEER_INFO flagged relay-only): nothing to punch toward
    await until('the UDP edge knows the WebSocket edge', () => peerOf(udp, ws) !== undefined)
    t.not(peerOf(udp, ws)!.path, 'direct')
    t.equal(peerOf(udp, ws)!.endpoint, null, 'no direct endpoint for the WebSocket edge')
    // v2: a probe is a SESSION_DATA of kind Probe sent straight to a candidate; the WebSocket edge is the UDP
    // edge's only peer, so any probe at all would be one toward it
    const probes = recording.sealed.filter((d) => d.kind === SessionKind.Probe)
    t.same(probes, [], 'the UDP edge sent not one probe toward the WebSocket edge (its TCP endpoint was never a candidate)')
    udp.tap.inject(ipv4Frame(ws.tap.mac, udp.tap.mac, udp.edge.overlay!.address, ws.edge.overlay!.address, 200))
    await ws.tap.waitForWritten(6)
    t.ok(recording.sealed.some((d) => d.type === PacketType.Relay && d.destId === ws.edge.edgeId && d.port === sn.port), 'it relays to it by its edge ID, through the supernode')
    const metrics = sn.metrics()
    t.match(metrics, /^overlan_supernode_ws_connections 1$/m)
    t.match(metrics, /^overlan_supernode_ws_refused_total\{reason="text-message"\} 0$/m)
  })
}

t.test('-p twice: one registry behind both ports; edges on either port see each other and relay', async (t) => {
  const sn = await startSupernode(t, { extraPorts: [0] })
  t.equal(sn.udpPorts.length, 2)
  const [first, second] = sn.udpPorts as [number, number]
  t.not(first, second, `two UDP ports: ${first} and ${second}`)
  const a = await startEdge(t, [first], { relayOnly: true })
  const b = await startEdge(t, [second], { relayOnly: true })
  await Promise.all([registered(a), registered(b)])
  t.equal(sn.status().edges.length, 2, 'both in the one registry')
  t.ok(sn.status().edges.every((e) => e.transport === 'udp'))
  await relayBothWays(t, a, b, sn)
  t.equal(peerOf(a, b)?.path, 'relay')
})

t.test('the supernode answers a HELLO on every UDP port, with its wall clock; an edge is answered from the port it registered through', async (t) => {
  // the wall clock at a set time near today's: v2's supernode checks the edge's certificate (issued now) against it
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000)
  const sn = await startSupernode(t, { extraPorts: [0, 0] }, clock)
  const socket = createSocket('udp4')
  t.teardown(() => socket.close())
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  const answers: { from: number; packet: ReturnType<typeof decodePacket> }[] = []
  socket.on('message', (msg, rinfo) => answers.push({ from: rinfo.port, packet: decodePacket(msg) }))
  for (const port of sn.udpPorts) socket.send(encodeHello(Buffer.alloc(8, 1)), port, '127.0.0.1')
  await until('three COOKIEs', () => answers.length === 3)
  t.same(answers.map((a) => a.from).sort(), [...sn.udpPorts].sort(), 'one COOKIE from each port, sent from that port')
  for (const { packet } of answers) {
    t.match(packet, { ok: true, value: { type: PacketType.Cookie, serverTimeMs: clock.now(), reflexive: { address: '127.0.0.1', port: socket.address().port } } })
  }

  // an edge on the third port: every answer to it (ACKs of its keepalives) comes from that port
  const third = sn.udpPorts[2]!
  const e = await startEdge(t, [third])
  await registered(e)
  t.equal(sn.status().edges[0]!.transport, 'udp')
  t.equal(e.edge.status().supernodes[0]!.registered, true, `registered through UDP port ${third}`)
})

t.test('--trust-proxy: per-address limits and the endpoint shown use the forwarded client address (last X-Forwarded-For entry, or X-Real-IP); without it the header is ignored', async (t) => {
  for (const trustProxy of [true, false]) {
    const sn = await startSupernode(t, { ws: { ...wsConfig(null), trustProxy, maxPerAddress: 2 } })
    const url = `ws://127.0.0.1:${sn.tcpPort}/overlan`
    const forwarded = { 'X-Forwarded-For': '203.0.113.9, 198.51.100.20' }
    const tunnel = await WsTunnelTransport.open(url, { address: '127.0.0.1', port: sn.port }, { headers: forwarded })
    const e = await startEdge(t, [sn], { transport: tunnel })
    await registered(e)
    const endpoint = sn.status().edges[0]!.endpoint
    if (trustProxy) t.match(endpoint, /^198\.51\.100\.20:\d+$/, `the edge is shown at the address the proxy vouches for (${endpoint}), not the client's own claim`)
    else t.match(endpoint, /^127\.0\.0\.1:\d+$/, `without --trust-proxy the header is ignored (${endpoint})`)

    const attempt = (headers: Record<string, string>): Promise<number> =>
      new Promise((resolve) => {
        const ws = new WebSocket(url, { headers })
        ws.once('open', () => {
          t.teardown(() => ws.terminate())
          resolve(101)
        })
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
        ws.once('error', () => resolve(0))
      })
    const outcomes = [await attempt(forwarded), await attempt(forwarded), await attempt({ 'X-Real-IP': '198.51.100.21' })]
    if (trustProxy) t.same(outcomes, [101, 503, 101], 'a second connection for 198.51.100.20 passes the limit of 2, a third is refused (503); another forwarded address is counted on its own')
    else t.same(outcomes, [101, 0, 0], 'all from 127.0.0.1: refused at the TCP accept past the limit of 2')
    t.equal(sn.status().websocket!.refused['address-full'], trustProxy ? 1 : 2)
    await tunnel.close()
  }
})
