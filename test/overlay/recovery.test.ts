// Faults the overlay heals by itself, with an injected clock so that minutes pass in milliseconds:
// a supernode restart, a silent edge, a direct path that dies, the loss of one of two supernodes.
import t from 'tap'
import { DIRECT_TIMEOUT_MS, PUNCH_RETRY_MS } from '../../src/edge/punch.js'
import { Supernode } from '../../src/supernode/supernode.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { pathOf, registered, startEdge, startSupernode, until, type TestEdge } from '../fixtures/overlay.js'

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

t.test('a direct path that goes silent falls back to the relay by itself, then becomes direct again', async (t) => {
  const clock = new ManualClock()
  const sn = await startSupernode(t, {}, clock)
  const a = await startEdge(t, [sn], { clock, nat: 'cone' })
  const b = await startEdge(t, [sn], { clock, nat: 'cone' })
  await Promise.all([registered(a), registered(b)])
  await frameArrives(clock, a, b, 2000)
  for (let i = 0; i < 40 && !(pathOf(a, b) === 'direct' && pathOf(b, a) === 'direct'); i++) await clock.advance(50)
  t.equal(pathOf(a, b), 'direct')

  // cut the path between the two NATs; both still reach the supernode
  const snPort = sn.port
  a.nat!.block = (_addr, port) => port !== snPort
  b.nat!.block = (_addr, port) => port !== snPort
  await clock.advance(DIRECT_TIMEOUT_MS + 1000, 250)
  t.equal(pathOf(a, b), 'relay', 'a fell back to the relay')
  t.equal(pathOf(b, a), 'relay', 'b fell back to the relay')
  t.ok((await frameArrives(clock, a, b, 1000)) >= 0, 'frames flow through the relay meanwhile')

  a.nat!.block = null
  b.nat!.block = null
  await clock.advance(PUNCH_RETRY_MS + 2000, 250)
  t.equal(pathOf(a, b), 'direct', 'punching was retried and the path is direct again')
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
