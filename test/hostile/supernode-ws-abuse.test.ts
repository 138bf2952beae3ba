// The WebSocket listener under abuse: garbage bytes, text frames, oversized messages, TCP
// connections that never upgrade (half-open, slowloris headers, a TLS handshake that never starts),
// WebSocket connections that never register, and a reader that stops reading. Each is refused or
// cut within its stated bound (src/net/ws-listener.ts) and counted by reason, and after each the
// supernode still relays between two UDP members and answers a HELLO. Deadlines run on an injected
// clock: the test moves time instead of waiting for it.
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { createSocket } from 'node:dgram'
import t from 'tap'
import type { Test } from 'tap'
import { WebSocket } from 'ws'
import {
  BUFFERED_CAP_BYTES,
  DEFAULT_WS_MAX_CONNECTIONS,
  DEFAULT_WS_MAX_PER_ADDRESS,
  REGISTER_WITHIN_MS,
  SEND_QUEUE_BYTES,
  STALLED_CUT_MS,
  SWEEP_MS,
  UPGRADE_WITHIN_MS,
} from '../../src/net/ws-listener.js'
import type { Supernode } from '../../src/supernode/supernode.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { MAX_PACKET_BYTES, PacketType, decodePacket, encodeHello } from '../../src/wire/index.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { registered, startEdge, startSupernode, until, type TestEdge } from '../fixtures/overlay.js'
import { selfSigned } from '../fixtures/self-signed.js'
import { WsTunnelTransport } from '../fixtures/ws-tunnel-transport.js'

const CLOSE_WAIT_MS = 5_000

interface Lab {
  sn: Supernode
  clock: ManualClock
  a: TestEdge
  b: TestEdge
  url: string
}

async function lab(t: Test, tls: { cert: Buffer; key: Buffer } | null = null): Promise<Lab> {
  const clock = new ManualClock(Date.now())
  const ws = { port: 0, bindAddress: '127.0.0.1', tls, trustProxy: false, maxConnections: DEFAULT_WS_MAX_CONNECTIONS, maxPerAddress: DEFAULT_WS_MAX_PER_ADDRESS }
  const sn = await startSupernode(t, { ws }, clock)
  // two UDP members on the relay: what must keep working whatever the WebSocket side suffers
  const a = await startEdge(t, [sn], { relayOnly: true })
  const b = await startEdge(t, [sn], { relayOnly: true })
  await Promise.all([registered(a), registered(b)])
  return { sn, clock, a, b, url: `${tls ? 'wss' : 'ws'}://127.0.0.1:${sn.tcpPort}/overlan` }
}

/** A frame from a to b through the relay, and a HELLO answered with a COOKIE: the supernode still serves UDP. */
async function stillServesUdp(t: Test, { sn, a, b }: Lab): Promise<void> {
  const before = b.tap.written.length
  a.tap.inject(ipv4Frame(b.tap.mac, a.tap.mac, a.edge.overlay!.address, b.edge.overlay!.address, 300))
  await b.tap.waitForWritten(before + 1)
  const socket = createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  const answer = once(socket, 'message') as Promise<[Buffer]>
  socket.send(encodeHello(Buffer.alloc(8, 7)), sn.port, '127.0.0.1')
  const [msg] = await answer
  socket.close()
  t.match(decodePacket(msg), { ok: true, value: { type: PacketType.Cookie } }, 'the supernode still relays between UDP members and answers a HELLO')
}

function refused(sn: Supernode, reason: string): number {
  return sn.status().websocket!.refused[reason]!
}

async function closed(socket: Socket | WebSocket): Promise<void> {
  if (socket instanceof WebSocket ? socket.readyState === WebSocket.CLOSED : socket.destroyed) return
  await Promise.race([once(socket, 'close'), new Promise((_, reject) => setTimeout(() => reject(new Error('not closed')), CLOSE_WAIT_MS))])
}

async function tcp(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  return socket
}

async function openWs(url: string, ca?: Buffer): Promise<WebSocket> {
  const ws = new WebSocket(url, { ca, perMessageDeflate: false })
  ws.on('error', () => {})
  await once(ws, 'open')
  return ws
}

t.test('garbage, text frames, oversized and wrong paths are refused and counted; UDP members are served throughout', async (t) => {
  const l = await lab(t)
  const port = l.sn.tcpPort!

  const garbage = await tcp(port)
  garbage.write(Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff)))
  await closed(garbage)
  t.equal(refused(l.sn, 'bad-http'), 1, 'garbage bytes: the connection is closed, counted as bad-http')

  const text = await openWs(l.url)
  const textClose = once(text, 'close') as Promise<[number]>
  text.send('hello supernode')
  t.equal((await textClose)[0], 1003, 'a text message closes the connection with 1003')
  t.equal(refused(l.sn, 'text-message'), 1)

  const big = await openWs(l.url)
  const fits = Buffer.alloc(MAX_PACKET_BYTES, 0xee)
  fits[0] = 9 // a bad version: refused by the codec, but the message size is allowed
  const droppedBefore = l.sn.drops['bad-version']
  big.send(fits)
  await until('the full-size message reached the codec', () => l.sn.drops['bad-version'] > droppedBefore)
  t.equal(big.readyState, WebSocket.OPEN, `a message of MAX_PACKET_BYTES (${MAX_PACKET_BYTES}) is taken (and refused by the codec like any bad datagram)`)
  const bigClose = once(big, 'close') as Promise<[number]>
  big.send(Buffer.alloc(MAX_PACKET_BYTES + 1))
  t.equal((await bigClose)[0], 1009, 'one byte more closes the connection with 1009 (message too big)')
  t.equal(refused(l.sn, 'oversized'), 1)

  const res = await fetch(`http://127.0.0.1:${port}/`)
  t.equal(res.status, 404, 'another path: 404')
  const plain = await fetch(`http://127.0.0.1:${port}/overlan`)
  t.equal(plain.status, 426, '/overlan without an upgrade: 426')
  const wrongPath = new WebSocket(`ws://127.0.0.1:${port}/other`)
  const response = (await Promise.race([once(wrongPath, 'unexpected-response'), once(wrongPath, 'error')])) as [unknown, { statusCode?: number }?]
  t.equal(response[1]?.statusCode ?? null, 404, 'an upgrade on another path: 404')
  t.ok(refused(l.sn, 'bad-path') >= 2 && refused(l.sn, 'not-upgrade') === 1, 'counted as bad-path and not-upgrade')
  // what a web page in the device's browser does: WebSocket has no same-origin rule, but the browser says where the page is from
  const fromPage = new WebSocket(`ws://127.0.0.1:${port}/overlan`, { origin: 'http://evil.example' })
  const pageResponse = (await Promise.race([once(fromPage, 'unexpected-response'), once(fromPage, 'error')])) as [unknown, { statusCode?: number }?]
  t.equal(pageResponse[1]?.statusCode ?? null, 403, 'an upgrade with an Origin header (a web page): 403')
  t.equal(refused(l.sn, 'browser-origin'), 1, 'counted as browser-origin')
  const noKey = await tcp(port)
  let reply = ''
  noKey.on('data', (c: Buffer) => (reply += c.toString()))
  noKey.write('GET /overlan HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
  await closed(noKey)
  t.match(reply, /^HTTP\/1\.1 400 /, 'an upgrade without a valid WebSocket handshake (no key): 400, closed')
  t.equal(refused(l.sn, 'bad-upgrade'), 1, 'counted as bad-upgrade')
  t.match(l.sn.metrics(), /^overlan_supernode_ws_refused_total\{reason="text-message"\} 1$/m, 'in /metrics by reason')
  await stillServesUdp(t, l)
})

t.test('half-open connections, slowloris headers and TLS handshakes that never start are cut at UPGRADE_WITHIN_MS', async (t) => {
  const { cert, key } = selfSigned(t)
  const tls = { cert, key }
  for (const kind of ['plain', 'tls'] as const) {
    const l = await lab(t, kind === 'tls' ? tls : null)
    const port = l.sn.tcpPort!
    const silent = await tcp(port)
    const slow = kind === 'plain' ? await tcp(port) : tlsConnect({ port, host: '127.0.0.1', ca: tls.cert, servername: 'localhost' })
    slow.on('error', () => {})
    if (kind === 'tls') await once(slow, 'secureConnect')
    slow.write('GET /overlan HTTP/1.1\r\nHost: 127.0.0.1\r\n')
    // one header line a second, never the blank line that ends them: slowloris
    let lines = 0
    const drip = async (): Promise<void> => {
      for (let s = 0; s < UPGRADE_WITHIN_MS / 1000 + 3 && !slow.destroyed; s++) {
        slow.write(`X-Drip-${lines++}: a\r\n`)
        await l.clock.advance(1000, 250)
      }
    }
    t.equal(l.sn.status().websocket!.pending, 2, 'two TCP connections wait for their upgrade')
    await drip()
    await closed(silent)
    await closed(slow)
    t.ok(lines <= UPGRADE_WITHIN_MS / 1000 + 2, `${kind}: cut after ${lines} header lines (${UPGRADE_WITHIN_MS} ms + one sweep)`)
    t.equal(refused(l.sn, 'upgrade-timeout'), 2, `${kind}: the silent one and the slow one, counted as upgrade-timeout`)
    t.equal(l.sn.status().websocket!.pending, 0)
    await stillServesUdp(t, l)
  }
})

t.test('a WebSocket that never registers is closed at REGISTER_WITHIN_MS; one that registered stays', async (t) => {
  const l = await lab(t)
  const idle = await openWs(l.url)
  const tunnel = await WsTunnelTransport.open(l.url, { address: '127.0.0.1', port: l.sn.port })
  const member = await startEdge(t, [l.sn], { transport: tunnel, relayOnly: true })
  await registered(member)
  await l.clock.advance(REGISTER_WITHIN_MS + 2 * SWEEP_MS, 250)
  await closed(idle)
  t.equal(refused(l.sn, 'unregistered'), 1, 'counted as unregistered')
  t.equal(tunnel.ws.readyState, WebSocket.OPEN, 'the registered edge keeps its connection')
  t.equal(l.sn.status().websocket!.connections, 1)
  await stillServesUdp(t, l)

  // silence: the edge's keepalives run on the real clock, so a jump of the supernode's clock past
  // the edge-expiry time looks to it like an edge that went quiet
  const idleMs = l.sn.config.keepaliveSeconds * l.sn.config.missedKeepalives * 1000
  await l.clock.advance(idleMs + 2 * SWEEP_MS, 1000)
  await closed(tunnel.ws)
  t.equal(refused(l.sn, 'idle'), 1, `a connection silent for the edge-expiry time (${idleMs} ms) is closed, counted as idle`)
})

t.test('a reader that stops reading: its queue stays bounded, data is dropped oldest first, and it is cut at STALLED_CUT_MS', async (t) => {
  const l = await lab(t)
  const tunnel = await WsTunnelTransport.open(l.url, { address: '127.0.0.1', port: l.sn.port })
  const stalled = await startEdge(t, [l.sn], { transport: tunnel, relayOnly: true })
  await registered(stalled)
  const sender = l.a
  // the sender learns the stalled edge (its first frame is flooded, then asked for), then floods it
  sender.tap.inject(ipv4Frame(stalled.tap.mac, sender.tap.mac, sender.edge.overlay!.address, stalled.edge.overlay!.address, 100))
  await stalled.tap.waitForWritten(1)
  tunnel.ws.pause()

  const FRAMES = 8_000 // 8,000 × ~1,450 B: 11.6 MB, below the relay's per-source burst (16 MiB)
  let most = { queued: 0, buffered: 0 }
  for (let i = 0; i < FRAMES; i++) {
    sender.tap.inject(ipv4Frame(stalled.tap.mac, sender.tap.mac, sender.edge.overlay!.address, stalled.edge.overlay!.address, 1400))
    if (i % 200 === 199) {
      await new Promise((resolve) => setImmediate(resolve))
      const ws = l.sn.status().websocket!
      most = { queued: Math.max(most.queued, ws.queuedBytes), buffered: Math.max(most.buffered, ws.bufferedBytes) }
    }
  }
  await until('the send queue overflowed', () => refused(l.sn, 'queue-drop-data') > 0, 10_000)
  const ws = l.sn.status().websocket!
  t.comment(`stalled reader: ${l.sn.counters.relayedFrames} frames relayed toward it, ${ws.queuedBytes} B queued, ${ws.bufferedBytes} B handed to its socket`)
  most = { queued: Math.max(most.queued, ws.queuedBytes), buffered: Math.max(most.buffered, ws.bufferedBytes) }
  t.ok(most.queued <= SEND_QUEUE_BYTES, `queue at most ${most.queued} B (bound ${SEND_QUEUE_BYTES})`)
  t.ok(most.buffered <= BUFFERED_CAP_BYTES + 2 * MAX_PACKET_BYTES, `handed to the socket at most ${most.buffered} B (cap ${BUFFERED_CAP_BYTES}, checked before each datagram)`)
  t.ok(refused(l.sn, 'queue-drop-data') > 0, `${refused(l.sn, 'queue-drop-data')} sealed frames dropped oldest first, counted as queue-drop-data`)
  await stillServesUdp(t, l)

  await l.clock.advance(STALLED_CUT_MS - 2 * SWEEP_MS, 500)
  t.equal(refused(l.sn, 'stalled'), 0, 'not cut before STALLED_CUT_MS')
  await l.clock.advance(4 * SWEEP_MS, 500)
  t.equal(refused(l.sn, 'stalled'), 1, `cut once stalled for ${STALLED_CUT_MS} ms, counted as stalled`)
  t.equal(l.sn.status().websocket!.connections, 0)
  t.equal(l.sn.status().websocket!.queuedBytes, 0, 'its queue is gone with it')
  await stillServesUdp(t, l)
})
