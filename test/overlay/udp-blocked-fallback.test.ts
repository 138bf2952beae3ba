// UDP blocked: an edge registers over its supernode's WebSocket fallback by itself (after UDP's
// head start of UDP_HEAD_START_MS), exchanges frames with a UDP edge through the relay, and moves
// back to UDP (then direct) when UDP works again, frames flowing throughout. Also: UDP that answers
// in time wins and the fallback is closed; of several UDP ports the one that answers is kept; a
// fallback connection that drops is dialled again. One in-process supernode on loopback with its
// WebSocket endpoint over TLS (a certificate from a CA the test made), and an injected clock.
import t, { type Test } from 'tap'
import { TICK_MS, type EdgeStatus } from '../../src/edge/edge.js'
import { FALLBACK_RETRY_FIRST_MS, UDP_HEAD_START_MS, UDP_RETRY_ON_FALLBACK_MS } from '../../src/edge/supernode-link.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { freeTcpPort } from '../fixtures/free-port.js'
import { peerOf, startEdge, startSupernode, type TestEdge } from '../fixtures/overlay.js'
import { makePrivateCa } from '../fixtures/private-ca.js'
import { startTcpCutter } from '../fixtures/tcp-cutter.js'
import { DEFAULT_WS_MAX_CONNECTIONS, DEFAULT_WS_MAX_PER_ADDRESS } from '../../src/net/ws-listener.js'
import type { Supernode } from '../../src/supernode/supernode.js'

const ca = makePrivateCa(t, ['127.0.0.1'])

/** A supernode with its TLS WebSocket endpoint (the fallback), on the manual clock. */
async function supernodeWithFallback(t: Test, clock: ManualClock): Promise<{ sn: Supernode; url: string; open: () => number }> {
  const tls = { cert: Buffer.from(ca.cert), key: Buffer.from(ca.key) }
  const sn = await startSupernode(t, { ws: { port: 0, bindAddress: '127.0.0.1', tls, trustProxy: false, maxConnections: DEFAULT_WS_MAX_CONNECTIONS, maxPerAddress: DEFAULT_WS_MAX_PER_ADDRESS } }, clock)
  return { sn, url: `wss://127.0.0.1:${sn.tcpPort}/overlan`, open: () => sn.status().websocket?.connections ?? 0 }
}

function link(e: TestEdge): EdgeStatus['supernodes'][number] {
  return e.edge.status().supernodes[0]!
}

/** Advances the clock in tick steps until `fn` holds; returns the ms of clock time it took. Real time is bounded too. */
async function clockUntil(clock: ManualClock, what: string, fn: () => boolean, maxMs: number): Promise<number> {
  const start = clock.now()
  const realDeadline = Date.now() + 30_000
  while (!fn()) {
    if (clock.now() - start > maxMs || Date.now() > realDeadline) throw new Error(`not within ${maxMs} ms of clock time: ${what}`)
    await clock.advance(TICK_MS)
  }
  return clock.now() - start
}

/** Sends a frame from → to every `everyMs` for `forMs` of clock time; returns how many arrived and the longest gap between arrivals. */
async function steadyFrames(clock: ManualClock, from: TestEdge, to: TestEdge, forMs: number, everyMs = 100, during?: () => void): Promise<{ sent: number; arrived: number; longestGapMs: number }> {
  const before = to.tap.written.length
  let sent = 0
  let lastArrival = clock.now()
  let seen = before
  let longestGapMs = 0
  const end = clock.now() + forMs
  while (clock.now() < end) {
    from.tap.inject(ipv4Frame(to.tap.mac, from.tap.mac, from.edge.overlay!.address, to.edge.overlay!.address))
    sent++
    if (sent === 3) during?.()
    await clock.advance(everyMs, everyMs)
    // a few real turns for loopback TCP (the fallback) between clock steps
    for (let i = 0; i < 20 && to.tap.written.length === seen; i++) await new Promise((resolve) => setImmediate(resolve))
    if (to.tap.written.length > seen) {
      seen = to.tap.written.length
      lastArrival = clock.now()
    }
    longestGapMs = Math.max(longestGapMs, clock.now() - lastArrival)
  }
  return { sent, arrived: to.tap.written.length - before, longestGapMs }
}

t.test('UDP blocked: registered over TLS after the head start, relayed frames both ways, back on UDP and direct when UDP returns', async (t) => {
  const clock = new ManualClock()
  const { sn, url, open } = await supernodeWithFallback(t, clock)
  const tech = await startEdge(t, [sn], { clock, nat: 'cone' })
  const start = clock.now()
  const device = await startEdge(t, [sn], {
    clock,
    nat: 'cone',
    supernodes: [{ host: '127.0.0.1', port: sn.port, ports: [sn.port], fallback: new URL(url) }],
    fallback: { ca: ca.caPem },
  })
  device.nat!.block = () => true // the device's network drops all UDP

  await clockUntil(clock, 'the device registered', () => link(device).registered, 5_000)
  const took = clock.now() - start
  t.equal(link(device).transport, 'tls', '/status says tls')
  t.equal(link(device).port, sn.tcpPort, 'and the fallback port')
  t.same(sn.status().edges.map((e) => e.transport).sort(), ['tls', 'udp'], 'the supernode sees one TLS edge and one UDP edge')
  t.ok(took >= UDP_HEAD_START_MS && took <= UDP_HEAD_START_MS + 1_000, `registered over TLS ${took} ms after start (UDP's head start is ${UDP_HEAD_START_MS} ms)`)
  await clockUntil(clock, 'the technician registered', () => link(tech).registered, 5_000)
  t.equal(link(tech).transport, 'udp')

  const there = await steadyFrames(clock, tech, device, 3_000)
  const back = await steadyFrames(clock, device, tech, 3_000)
  t.ok(there.arrived >= there.sent - 1 && back.arrived >= back.sent - 1, `frames through the relay: ${there.arrived}/${there.sent} tech → device, ${back.arrived}/${back.sent} device → tech`)
  const seenByDevice = peerOf(device, tech)!
  t.not(seenByDevice.path, 'direct', `no direct path while UDP is blocked (${seenByDevice.path})`)
  t.equal(seenByDevice.via, 'tls', 'the device relays over TLS')
  t.equal(seenByDevice.relay, `127.0.0.1:${sn.port}`)
  t.equal(peerOf(tech, device)!.via, 'udp', 'the technician relays over UDP')

  // UDP comes back while frames flow both ways: the link changes carrier under them
  const moving = steadyFrames(clock, tech, device, UDP_RETRY_ON_FALLBACK_MS + 3_000, 100, () => {
    device.nat!.block = null
  })
  const movingBack = steadyFrames(clock, device, tech, UDP_RETRY_ON_FALLBACK_MS + 3_000)
  const [during, duringBack] = await Promise.all([moving, movingBack])
  t.equal(link(device).transport, 'udp', `back on UDP within ${UDP_RETRY_ON_FALLBACK_MS + 3_000} ms`)
  t.ok(during.arrived >= during.sent - 2 && duringBack.arrived >= duringBack.sent - 2, `frames kept flowing while the carrier changed: ${during.arrived}/${during.sent} and ${duringBack.arrived}/${duringBack.sent}`)
  t.ok(during.longestGapMs <= 500, `no gap longer than 500 ms (${during.longestGapMs} ms)`)
  const directAfter = await clockUntil(clock, 'direct between the two', () => peerOf(device, tech)?.path === 'direct' && peerOf(tech, device)?.path === 'direct', 15_000)
  t.comment(`direct both ways ${directAfter} ms (clock) after the frames of the move`)
  t.equal(peerOf(device, tech)!.via, 'udp')
  await clockUntil(clock, 'the fallback connection closed at the supernode', () => open() === 0, 3_000)

  const { counters, drops } = device.edge.status()
  t.equal(counters.fallbackSwitches, 1, 'one registration over the fallback, counted')
  t.equal(counters.udpReturns, 1, 'one move back to UDP, counted')
  t.ok(counters.fallbackConnects >= 1 && counters.fallbackCloses >= 1)
  t.equal(drops['fallback-queue-full'], 0)
  t.match(device.edge.metrics(), /overlan_edge_udp_returns_total 1/)
})

t.test('UDP that answers within its head start wins: registered over UDP, the fallback closed', async (t) => {
  const clock = new ManualClock()
  const { sn, url, open } = await supernodeWithFallback(t, clock)
  const e = await startEdge(t, [sn], { clock, supernodes: [{ host: '127.0.0.1', port: sn.port, fallback: new URL(url) }], fallback: { ca: ca.caPem } })
  const took = await clockUntil(clock, 'registered', () => link(e).registered, 2_000)
  t.ok(took < UDP_HEAD_START_MS, `registered in ${took} ms`)
  t.equal(link(e).transport, 'udp')
  await clockUntil(clock, 'no fallback connection left', () => open() === 0, 3_000)
  await clock.advance(3 * UDP_HEAD_START_MS)
  t.equal(link(e).transport, 'udp', 'still on UDP after the head start has long passed')
  t.equal(e.edge.status().counters.fallbackSwitches, 0)
})

t.test('of several UDP ports the one that answers is kept', async (t) => {
  const clock = new ManualClock()
  const sn = await startSupernode(t, {}, clock)
  const silent = await freeTcpPort() // no UDP socket there either: nothing answers
  const e = await startEdge(t, [sn], { clock, supernodes: [{ host: '127.0.0.1', port: silent, ports: [silent, sn.port] }] })
  await clockUntil(clock, 'registered', () => link(e).registered, 2_000)
  t.equal(link(e).port, sn.port, 'the answering port is the one in use')
  t.equal(link(e).address, `127.0.0.1:${silent},${sn.port}`, 'the entry is the -l as given')
  t.equal(link(e).transport, 'udp')
})

t.test('a fallback connection that drops is dialled again, and the edge registers over it again', async (t) => {
  const clock = new ManualClock()
  const { sn } = await supernodeWithFallback(t, clock)
  // a middlebox between the edge and the supernode's TLS port, which resets the connection
  const middlebox = await startTcpCutter(t, sn.tcpPort!)
  const e = await startEdge(t, [sn], { clock, nat: 'cone', supernodes: [{ host: '127.0.0.1', port: sn.port, fallback: new URL(`wss://127.0.0.1:${middlebox.port}/overlan`) }], fallback: { ca: ca.caPem } })
  e.nat!.block = () => true
  await clockUntil(clock, 'registered over the fallback', () => link(e).registered && link(e).transport === 'tls', 5_000)
  middlebox.cut()
  await clockUntil(clock, 'the loss noticed', () => !link(e).registered, 5_000)
  const took = await clockUntil(clock, 'registered over the fallback again', () => link(e).registered && link(e).transport === 'tls', 10_000)
  t.ok(took >= FALLBACK_RETRY_FIRST_MS, `again after the dial backoff (${took} ms)`)
  t.equal(middlebox.accepted(), 2, 'a second connection')
  t.equal(e.edge.status().counters.fallbackCloses, 1)
})
