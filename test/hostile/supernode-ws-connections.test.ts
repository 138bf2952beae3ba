// 1,000 WebSocket connections from one address against the real `overlan supernode` in a process
// of its own: bounded per address (--ws-max-per-address, 64 by default), then in all
// (--ws-max-connections), every refusal counted; the process's memory measured with the listener
// full; connections that never register closed by the registration deadline on the real clock;
// and the UDP members relay through it all along.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { WebSocket } from 'ws'
import { DEFAULT_WS_MAX_PER_ADDRESS, REGISTER_WITHIN_MS, WS_MEMORY_PER_CONNECTION } from '../../src/net/ws-listener.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { registered, startEdge, until, type TestEdge } from '../fixtures/overlay.js'
import { startSupernodeProcess } from '../fixtures/supernode-process.js'

const FROM_ONE_ADDRESS = 1_000
const MAX_CONNECTIONS = 600
/** further addresses, each under the per-address limit, to reach the total */
const OTHER_ADDRESSES = 10
const PER_OTHER_ADDRESS = 60
const BATCH = 100

interface WsStatus {
  port: number
  memoryBoundBytes: number
  websocket: { port: number; connections: number; pending: number; accepted: number; refused: Record<string, number> }
}

function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
}

/** Opens `count` WebSocket connections from `localAddress`, BATCH at a time; returns those that opened. */
async function connectMany(url: string, count: number, localAddress: string): Promise<WebSocket[]> {
  const open: WebSocket[] = []
  for (let done = 0; done < count; done += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, count - done) }, () => {
      const ws = new WebSocket(url, { localAddress, perMessageDeflate: false, handshakeTimeout: 10_000 })
      return new Promise<WebSocket | null>((resolve) => {
        ws.once('open', () => resolve(ws))
        ws.once('error', () => resolve(null))
        ws.once('unexpected-response', () => resolve(null))
        ws.once('close', () => resolve(null))
      })
    })
    for (const ws of await Promise.all(batch)) if (ws !== null) open.push(ws)
  }
  return open
}

async function relays(a: TestEdge, b: TestEdge): Promise<void> {
  const before = b.tap.written.length
  a.tap.inject(ipv4Frame(b.tap.mac, a.tap.mac, a.edge.overlay!.address, b.edge.overlay!.address, 300))
  await b.tap.waitForWritten(before + 1)
}

t.test(`${FROM_ONE_ADDRESS} connections from one address: bounded per address and in all, counted, memory measured, members served`, async (t) => {
  const sn = await startSupernodeProcess(t, ['--tcp-port', '0', '--ws-max-connections', String(MAX_CONNECTIONS)])
  const status = (): Promise<WsStatus> => sn.status<WsStatus>()
  const first = await status()
  const url = `ws://127.0.0.1:${first.websocket.port}/overlan`
  const a = await startEdge(t, [first.port], { relayOnly: true })
  const b = await startEdge(t, [first.port], { relayOnly: true })
  await Promise.all([registered(a), registered(b)])
  await relays(a, b)
  const rssBefore = rssOf(sn.child.pid!)

  const sockets: WebSocket[] = []
  t.teardown(() => sockets.forEach((ws) => ws.terminate()))
  sockets.push(...(await connectMany(url, FROM_ONE_ADDRESS, '127.0.0.1')))
  let s = await status()
  t.equal(sockets.length, DEFAULT_WS_MAX_PER_ADDRESS, `${sockets.length} of ${FROM_ONE_ADDRESS} opened: the per-address limit`)
  t.equal(s.websocket.refused['address-full'], FROM_ONE_ADDRESS - DEFAULT_WS_MAX_PER_ADDRESS, `${s.websocket.refused['address-full']} refused, counted as address-full`)
  await relays(a, b)

  for (let i = 1; i <= OTHER_ADDRESSES; i++) sockets.push(...(await connectMany(url, PER_OTHER_ADDRESS, `127.0.2.${i}`)))
  s = await status()
  const others = OTHER_ADDRESSES * PER_OTHER_ADDRESS
  t.equal(s.websocket.connections, MAX_CONNECTIONS, `${s.websocket.connections} open: the total limit`)
  t.equal(s.websocket.refused['total-full'], DEFAULT_WS_MAX_PER_ADDRESS + others - MAX_CONNECTIONS, `the rest refused, counted as total-full`)

  const rssFull = rssOf(sn.child.pid!)
  const perConnection = (rssFull - rssBefore) / MAX_CONNECTIONS
  t.comment(`supernode RSS ${(rssBefore / 2 ** 20).toFixed(1)} MiB → ${(rssFull / 2 ** 20).toFixed(1)} MiB with ${MAX_CONNECTIONS} WebSocket connections open: ${(perConnection / 1024).toFixed(1)} KiB each`)
  t.ok(perConnection <= WS_MEMORY_PER_CONNECTION, `under the ${WS_MEMORY_PER_CONNECTION / 1024} KiB per connection the memory bound counts`)
  t.ok(rssFull <= first.memoryBoundBytes, `RSS within the stated memory bound (${(first.memoryBoundBytes / 2 ** 20).toFixed(0)} MiB)`)
  await relays(a, b)
  t.pass('the UDP members relay with the listener full')

  // none of them registers: each is closed by the deadline, on the process's own clock
  await until('every unregistered connection closed', () => sockets.every((ws) => ws.readyState === WebSocket.CLOSED), REGISTER_WITHIN_MS + 15_000)
  s = await status()
  t.equal(s.websocket.refused.unregistered, MAX_CONNECTIONS, `all ${MAX_CONNECTIONS} closed after REGISTER_WITHIN_MS (${REGISTER_WITHIN_MS} ms), counted as unregistered`)
  t.equal(s.websocket.connections, 0)
  const again = await connectMany(url, 1, '127.0.0.1')
  sockets.push(...again)
  t.equal(again.length, 1, 'the listener takes connections again once they are gone')
  await relays(a, b)
})
