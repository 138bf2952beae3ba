// Faults the overlay heals by itself, with an injected clock so that minutes pass in milliseconds:
// a supernode restart, a silent edge, a direct path that dies, a NAT that forgets its mappings,
// the loss of one of two supernodes.
import t, { type Test } from 'tap'
import { TICK_MS } from '../../src/edge/edge.js'
import { DIRECT_QUIET_MS, DIRECT_TIMEOUT_MS, PUNCH_RETRY_MS } from '../../src/edge/path.js'
import { Supernode } from '../../src/supernode/supernode.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { directEndpointOf, pathOf, registered, startEdge, startSupernode, until, type TestEdge } from '../fixtures/overlay.js'

/** Sends one frame a → b and moves the clock in 50 ms steps until it arrives; returns the ms it took, or -1. */
async function frameArrives(clock: ManualClock, from: TestEdge, to: TestEdge, withinMs: number): Promise<number> {
  const before = to.tap.written.length
  const start = clock.now()
  from.tap.inject(ipv4Frame(to.tap.mac, from.tap.mac, from.edge.overlay!.address, to.edge.overlay!.address))
  while (clock.now() - start <= withinMs) {
    if (to.tap.written.length > before) return clock.now() - start
    await clock.advance(50)
    // a frame sent into a dead relay is lost; a user's ping would send again each second
    if ((clock.now() - start) % 1000 === 0) from.tap.inject(ipv4Frame(to.tap.mac, from.tap.mac, from.edge.overlay!.address, to.edge.overlay!.address))
  }
  return -1
}

t.test('supernode restarted: edges register again and relayed frames flow within 10 s', async (t) => {
  const clock = new ManualClock()
  const sn = await startSupernode(t, {}, clock)
  const port = sn.port
  const a = await startEdge(t, [sn], { clock, relayOnly: true })
  const b = await startEdge(t, [sn], { clock, relayOnly: true })
  await Promise.all([registered(a), registered(b)])
  t.ok((await frameArrives(clock, a, b, 1000)) >= 0, 'frames flow through the first supernode')

  await sn.stop()
  const restarted = await Supernode.start({ port, bindAddress: '127.0.0.1', mgmt: null }, { clock })
  t.teardown(() => restarted.stop())
  t.equal(restarted.registry.edges.size, 0, 'the new supernode knows nobody')

  const took = await frameArrives(clock, a, b, 10_000)
  t.ok(took >= 0 && took <= 10_000, `a frame a → b arrived ${took} ms after the restart`)
  const back = await frameArrives(clock, b, a, 10_000)
  t.ok(back >= 0, `and b → a (${back} ms)`)
  t.equal(restarted.registry.edges.size, 2, 'both edges registered again')
})

t.test('an edge that goes silent is expired after 3 missed keepalives; one that stops deregisters at once', async (t) => {
  const clock = new ManualClock()
  const sn = await startSupernode(t, { keepaliveSeconds: 20, missedKeepalives: 3 }, clock)
  const silent = await startEdge(t, [sn], { clock, nat: 'cone' })
  const leaving = await startEdge(t, [sn], { clock })
  const staying = await startEdge(t, [sn], { clock })
  await Promise.all([registered(silent), registered(leaving), registered(staying)])
  t.equal(sn.registry.edges.size, 3)

  await leaving.edge.stop()
  await until('deregistered', () => sn.registry.edges.size === 2)
  t.equal(sn.counters.deregistrations, 1, 'a stopping edge deregisters')

  silent.nat!.block = () => true // unplugged: nothing in or out
  await clock.advance(59_000, 500)
  t.ok(sn.registry.edges.has(silent.edge.edgeId), 'still registered just before 3 intervals')
  await clock.advance(12_000, 500)
  t.notOk(sn.registry.edges.has(silent.edge.edgeId), 'expired after 3 keepalive intervals of silence')
  t.ok(sn.registry.edges.has(staying.edge.edgeId), 'the edge that kept its keepalives is still there')
  t.equal(sn.counters.expirations, 1)
})

/** A direct path that stops answering costs at most this: DIRECT_QUIET_MS of quiet, then the next frame (one a second, as ping sends) takes the relay, give or take a tick. */
const OUTAGE_MS = DIRECT_QUIET_MS + 1000 + 2 * TICK_MS

/** Registers both and sends a frame, which makes the path direct both ways. */
async function directBothWays(t: Test, clock: ManualClock, a: TestEdge, b: TestEdge): Promise<void> {
  await Promise.all([registered(a), registered(b)])
  await frameArrives(clock, a, b, 2000)
  for (let i = 0; i < 40 && !(pathOf(a, b) === 'direct' && pathOf(b, a) === 'direct'); i++) await clock.advance(50)
  t.ok(pathOf(a, b) === 'direct' && pathOf(b, a) === 'direct', 'direct both ways')
}

t.test('a direct path that goes silent: frames take the relay within seconds, it falls back to the relay, then becomes direct again', async (t) => {
  const clock = new ManualClock()
  const sn = await startSupernode(t, {}, clock)
  const a = await startEdge(t, [sn], { clock, nat: 'cone' })
  const b = await startEdge(t, [sn], { clock, nat: 'cone' })
  await directBothWays(t, clock, a, b)

  // cut the path between the two NATs; both still reach the supernode
  const snPort = sn.port
  a.nat!.block = (_addr, port) => port !== snPort
  b.nat!.block = (_addr, port) => port !== snPort
  const took = await frameArrives(clock, a, b, DIRECT_TIMEOUT_MS)
  t.comment(`after the cut, a frame a → b arrived in ${took} ms (through the relay: the path is ${pathOf(a, b)})`)
  t.ok(took >= 0 && took <= OUTAGE_MS, `frames flow again within ${OUTAGE_MS} ms, long before the path counts as dead`)
  t.not(pathOf(a, b), 'direct', 'meanwhile the path is no longer direct')
  // punching toward the fresh endpoints the supernode gave (then birthday punching) finds nothing
  for (let i = 0; i < 60 && !(pathOf(a, b) === 'relay' && pathOf(b, a) === 'relay'); i++) await clock.advance(500, 250)
  t.equal(pathOf(a, b), 'relay', 'a fell back to the relay')
  t.equal(pathOf(b, a), 'relay', 'b fell back to the relay')
  t.ok((await frameArrives(clock, a, b, 1000)) >= 0, 'frames flow through the relay meanwhile')

  a.nat!.block = null
  b.nat!.block = null
  await clock.advance(PUNCH_RETRY_MS + 2000, 250)
  t.equal(pathOf(a, b), 'direct', 'punching was retried and the path is direct again')
})

t.test('a NAT forgets its mappings (conntrack flushed): a peer on a public address follows the new port at once', async (t) => {
  const clock = new ManualClock()
  const sn = await startSupernode(t, {}, clock)
  const a = await startEdge(t, [sn], { clock, nat: 'cone' })
  const b = await startEdge(t, [sn], { clock })
  await directBothWays(t, clock, a, b)
  const before = directEndpointOf(b, a)!.port

  // a's next datagrams leave from a new public port; b still sends to the old one, where they are lost
  await a.nat!.forgetMappings()
  let moved = false
  const wasPath = new Set<string>()
  for (let i = 0; i < 80 && !moved; i++) {
    await clock.advance(100)
    wasPath.add(pathOf(b, a))
    moved = pathOf(b, a) === 'direct' && directEndpointOf(b, a)!.port !== before
  }
  t.ok(moved, `b is direct to a's new port (${before} → ${directEndpointOf(b, a)?.port}), probed back when a's probe came from it`)
  t.same([...wasPath], ['direct'], 'and never left the direct path')
  t.ok((await frameArrives(clock, b, a, 1000)) >= 0, 'frames b → a arrive')
  t.equal(pathOf(a, b), 'direct', 'a never left the direct path')
})

t.test('a NAT forgets its mappings (conntrack flushed), both sides behind cone NATs: relay at once, then direct to the new port', async (t) => {
  const clock = new ManualClock()
  const sn = await startSupernode(t, {}, clock)
  const a = await startEdge(t, [sn], { clock, nat: 'cone' })
  const b = await startEdge(t, [sn], { clock, nat: 'cone' })
  await directBothWays(t, clock, a, b)
  const before = directEndpointOf(b, a)!.port
  const flushedAt = clock.now()

  // b's NAT lets in only the endpoints b has sent to: a's new port is a stranger there until b probes it
  await a.nat!.forgetMappings()
  const took = await frameArrives(clock, b, a, DIRECT_TIMEOUT_MS)
  t.comment(`after the flush, a frame b → a arrived in ${took} ms (b's path ${pathOf(b, a)})`)
  t.ok(took >= 0 && took <= OUTAGE_MS, `frames b → a flow again within ${OUTAGE_MS} ms`)
  let direct = false
  for (let i = 0; i < 400 && !direct; i++) {
    await clock.advance(100)
    direct = pathOf(a, b) === 'direct' && pathOf(b, a) === 'direct' && directEndpointOf(b, a)!.port !== before
  }
  const where = sn.registry.edges.get(a.edge.edgeId)
  t.ok(direct, `direct both ways again ${clock.now() - flushedAt} ms after the flush, b to a's new port (${before} → ${directEndpointOf(b, a)?.port})`)
  t.equal(directEndpointOf(b, a)?.port, where?.port, 'the port the supernode sees a at')
})

t.test('two supernodes: edges register with both and survive the loss of one', async (t) => {
  const clock = new ManualClock()
  const sn1 = await startSupernode(t, {}, clock)
  const sn2 = await startSupernode(t, {}, clock)
  const a = await startEdge(t, [sn1, sn2], { clock, relayOnly: true })
  const b = await startEdge(t, [sn1, sn2], { clock, relayOnly: true })
  await Promise.all([registered(a, 2), registered(b, 2)])
  t.equal(sn1.registry.edges.size, 2)
  t.equal(sn2.registry.edges.size, 2)
  t.ok((await frameArrives(clock, a, b, 1000)) >= 0)
  t.ok(sn1.counters.relayedFrames > 0 && sn2.counters.relayedFrames === 0, 'both relay through the first supernode')

  await sn1.stop()
  const took = await frameArrives(clock, a, b, 10_000)
  t.ok(took >= 0, `frames flow again through the second supernode after ${took} ms`)
  t.ok(sn2.counters.relayedFrames > 0)
  await clock.advance(10_000, 250)
  t.same(
    a.edge.status().supernodes.map((s) => s.registered),
    [false, true],
    'status shows the first supernode lost and the second registered',
  )
})
