// The fallback stream's send side (src/net/ws-carrier.ts) is bounded: a burst far beyond what the
// socket takes waits in a queue of its own, the oldest data frames are dropped and counted, control
// messages overtake the data that waits, and what is sent arrives whole and in order. Datagrams from
// the server arrive one per binary message; text messages are dropped and counted.
import t, { type Test } from 'tap'
import { WebSocketServer, type WebSocket } from 'ws'
import { WS_DATA_QUEUE_BYTES, WS_INFLIGHT_CAP_BYTES, WsCarrier, type CarrierDrop } from '../../src/net/ws-carrier.js'
import { connectWebSocket } from '../../src/net/ws-connect.js'
import { PacketType, WIRE_VERSION } from '../../src/wire/index.js'

async function server(t: Test): Promise<{ port: number; received: Buffer[]; client: Promise<WebSocket> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/overlan' })
  await new Promise<void>((resolve) => wss.once('listening', resolve))
  const received: Buffer[] = []
  const client = new Promise<WebSocket>((resolve) =>
    wss.once('connection', (ws) => {
      ws.on('message', (data: Buffer) => received.push(data))
      resolve(ws)
    }),
  )
  t.teardown(() => {
    for (const c of wss.clients) c.terminate()
    return new Promise<void>((resolve) => wss.close(() => resolve()))
  })
  return { port: (wss.address() as { port: number }).port, received, client }
}

function message(type: number, index: number, size: number): Buffer {
  const b = Buffer.alloc(size)
  b[0] = WIRE_VERSION
  b[1] = type
  b.writeUInt32BE(index, 4)
  return b
}

t.test('a burst beyond the cap: oldest data dropped and counted, control first, the rest whole and in order', async (t) => {
  const s = await server(t)
  const url = new URL(`ws://127.0.0.1:${s.port}/overlan`)
  const drops: CarrierDrop[] = []
  const carrier = new WsCarrier(url, await connectWebSocket({ url }), (why) => drops.push(why))
  t.teardown(() => carrier.close())
  t.equal(carrier.kind, 'ws')
  await s.client

  const SIZE = 1000
  const BURST = 5_000 // 5 MB in one synchronous burst: nothing is written until it ends
  const buf = Buffer.alloc(SIZE)
  for (let i = 0; i < BURST; i++) {
    message(PacketType.Relay, i, SIZE).copy(buf) // one reused buffer, as the sealed sender's ring
    carrier.send(buf, 0, SIZE)
  }
  const control = message(PacketType.Keepalive, 999_999, 40)
  carrier.send(control, 0, control.length)

  const direct = Math.ceil(WS_INFLIGHT_CAP_BYTES / SIZE)
  const kept = Math.floor(WS_DATA_QUEUE_BYTES / SIZE)
  t.equal(drops.length, BURST - direct - kept, `${drops.length} oldest frames dropped (${direct} went to the socket, ${kept} wait)`)
  t.ok(drops.every((d) => d === 'fallback-queue-full'))
  t.ok(carrier.queuedBytes <= WS_INFLIGHT_CAP_BYTES + WS_DATA_QUEUE_BYTES + SIZE + control.length, `bounded: ${carrier.queuedBytes} bytes held`)

  const want = direct + 1 + kept
  while (s.received.length < want) await new Promise((resolve) => setTimeout(resolve, 5))
  const order = s.received.map((m) => (m[1] === PacketType.Keepalive ? 'control' : m.readUInt32BE(4)))
  t.same(order.slice(0, direct), Array.from({ length: direct }, (_, i) => i), 'what the socket took first, in order')
  t.equal(order[direct], 'control', 'the keepalive overtook every waiting frame')
  t.same(order.slice(direct + 1), Array.from({ length: kept }, (_, i) => BURST - kept + i), 'then the newest frames, in order: the oldest were dropped')
  t.ok(s.received.every((m) => m.length === SIZE || m.length === control.length), 'each message whole')
})

t.test('datagrams from the server: one per binary message; text is dropped and counted; a close is reported once', async (t) => {
  const s = await server(t)
  const url = new URL(`ws://127.0.0.1:${s.port}/overlan`)
  const drops: CarrierDrop[] = []
  const carrier = new WsCarrier(url, await connectWebSocket({ url }), (why) => drops.push(why))
  const got: Buffer[] = []
  carrier.onDatagram((msg) => got.push(Buffer.from(msg)))
  const closes: string[] = []
  carrier.onClosed((why) => closes.push(why))
  const ws = await s.client
  ws.send(Buffer.from([1, 2, 3]))
  ws.send('text is not a datagram')
  ws.send(Buffer.from([4]))
  while (got.length < 2) await new Promise((resolve) => setTimeout(resolve, 5))
  t.same(got, [Buffer.from([1, 2, 3]), Buffer.from([4])])
  t.same(drops, ['fallback-not-binary'])
  ws.close(1001, 'going away')
  while (closes.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  t.same(closes, ['connection closed (code 1001: going away)'])
  carrier.send(Buffer.from([1, 1, 0, 0]), 0, 4)
  t.same(drops, ['fallback-not-binary', 'fallback-closed'], 'a send after the close is dropped and counted')
})
