// A technician killed (no goodbye: no ABORT, no DEREGISTER, as SIGKILL leaves it) and started again
// with the same identity gets a new association at once: its INIT replaces the dead one on the
// device's side, whose stream ends there (audited as closed), and its forward carries bytes again
// within RESTARTED_FORWARD_MS of its registration. Packets of the dead association that reach the
// new process before it opens anything are dropped and counted (`no-association`), not taken for
// the start of an association of the device's. The edges' clock is injected (protocol time, not
// load); werift's own timers are real, and nothing here waits on them (no packet is lost).
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import t from 'tap'
import { generateIdentity, identityFromSeed, seedOf } from '../../src/crypto/identity.js'
import type { StreamEvent } from '../../src/edge/streams/hub.js'
import { listenForward } from '../../src/edge/streams/forward.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { isRegistered, startEdge, startSupernode, type TestEdge, type TestEdgeOptions } from '../fixtures/overlay.js'
import { roundTrip } from '../fixtures/userspace.js'

/** A restarted technician's forward works again within this much protocol time of its registration. */
const RESTARTED_FORWARD_MS = 2_000
const STEP_MS = 50
const DEVICE_IP = '10.9.0.42'
const ECHO_PORT = 7

/** Moves the clock in steps until `promise` settles; its value and the protocol time it took, or null after `withinMs`. */
async function during<T>(clock: ManualClock, promise: Promise<T>, withinMs: number): Promise<{ value: T; ms: number } | null> {
  let settled: { value: T } | null = null
  let failed: unknown = null
  promise.then(
    (value) => void (settled = { value }),
    (err: unknown) => void (failed = err ?? new Error('rejected')),
  )
  const start = clock.now()
  while (settled === null && failed === null && clock.now() - start < withinMs) await clock.advance(STEP_MS)
  if (failed !== null) throw failed as Error
  const done = settled as { value: T } | null
  return done === null ? null : { value: done.value, ms: clock.now() - start }
}

/** Moves the clock in steps until `check` holds; whether it did within `withinMs`. */
async function untilTrue(clock: ManualClock, check: () => boolean, withinMs: number): Promise<boolean> {
  const start = clock.now()
  while (!check() && clock.now() - start < withinMs) await clock.advance(STEP_MS)
  return check()
}

async function untilRegistered(clock: ManualClock, e: TestEdge): Promise<void> {
  if (!(await untilTrue(clock, () => isRegistered(e), 10_000))) throw new Error('not registered')
}

t.test("a technician restarted with the same identity: a new association replaces the dead one and its forward works again within 2 s", async (t) => {
  const clock = new ManualClock(Date.now())
  const sn = await startSupernode(t, {}, clock)
  // the device's echo service keeps its connections: the test writes on the dead technician's one later
  const served: Socket[] = []
  const echo = createServer({ allowHalfOpen: true }, (socket) => {
    served.push(socket)
    socket.on('error', () => {})
    socket.pipe(socket)
  })
  echo.listen(0, '127.0.0.1')
  await once(echo, 'listening')
  t.teardown(() => {
    for (const s of served) s.destroy()
    echo.close()
  })
  const echoPort = (echo.address() as { port: number }).port
  const device = await startEdge(t, [sn], {
    clock,
    nat: 'cone',
    macByte: 0x42,
    overlay: { address: DEVICE_IP, prefix: 24 },
    streams: { accept: true, connect: (port) => connect({ host: '127.0.0.1', port: port === ECHO_PORT ? echoPort : 1, allowHalfOpen: true }) },
  })
  const events: StreamEvent[] = []
  device.edge.streams.on('stream', (e) => events.push(e))
  const seed = seedOf(generateIdentity())
  // a fresh identity object each start: an edge destroys its own when it stops
  const technician = (): TestEdgeOptions => ({ clock, nat: 'cone', macByte: 0x02, overlay: { address: '10.9.0.2', prefix: 24 }, identity: identityFromSeed(seed), streams: { accept: false } })
  const first = await startEdge(t, [sn], technician())
  await untilRegistered(clock, device)
  await untilRegistered(clock, first)

  // the first technician's forward carries a connection that stays open
  const forward1 = await listenForward(first.edge.streams, DEVICE_IP, { localPort: 0, remotePort: ECHO_PORT })
  t.teardown(() => forward1.server.close())
  const open1 = connect({ host: '127.0.0.1', port: forward1.address.port })
  open1.on('error', () => {})
  open1.write('before the restart')
  const echoed = await during(clock, once(open1, 'data'), 10_000)
  t.equal(String(echoed?.value[0]), 'before the restart', 'before: the forward carries a connection both ways')
  t.equal(events.filter((e) => e.event === 'opened').length, 1, 'the device opened its stream')

  // SIGKILL: nothing more from the first process, and its user's connection is gone with it
  first.nat!.block = () => true
  open1.destroy()
  await clock.advance(1_000)
  const again = await startEdge(t, [sn], technician())
  await untilRegistered(clock, again)
  const registeredAt = clock.now()
  t.equal(again.edge.edgeId, first.edge.edgeId, 'the same edge ID')

  // a pair session between the restarted technician and the device (a frame from it), then bytes of
  // the dead connection from the device's service: the device's old association sends them to the
  // technician's edge ID, and the new process must not take them for an association of the device's
  again.tap.inject(ipv4Frame(device.tap.mac, again.tap.mac, '10.9.0.2', DEVICE_IP))
  const before = device.tap.written.length
  const reached = await untilTrue(clock, () => device.tap.written.length > before, 5_000)
  t.ok(reached, 'the restarted technician reaches the device (a pair session with the new process)')
  served[0]!.write('after the restart, to the dead process')
  await clock.advance(200)

  const forward2 = await listenForward(again.edge.streams, DEVICE_IP, { localPort: 0, remotePort: ECHO_PORT })
  t.teardown(() => forward2.server.close())
  const data = Buffer.from('after the restart: the new association')
  const back = await during(clock, roundTrip(forward2.address.port, data), 10_000)
  const sinceRegistration = clock.now() - registeredAt
  t.equal(back?.value.toString(), data.toString(), `the restarted technician's forward carries bytes both ways (${back?.ms} ms after its connection, ${sinceRegistration} ms after its registration)`)
  t.ok(back?.value.toString() === data.toString() && sinceRegistration <= RESTARTED_FORWARD_MS, `within ${RESTARTED_FORWARD_MS} ms of the restarted technician's registration (${sinceRegistration} ms)`)

  const opened = events.filter((e) => e.event === 'opened')
  t.equal(opened.length, 2, 'the device opened a second stream')
  t.equal(opened[1]!.peer.edgeId, opened[0]!.peer.edgeId, 'for the same technician (the same identity: the same edge ID)')
  const oldClosed = events.find((e) => e.event === 'closed' && e.id === opened[0]!.id && e.bytesFromPeer === 'before the restart'.length)
  t.equal(oldClosed?.reason, 'closed', "the dead technician's stream ended on the device (its association replaced), audited as closed")
  const drops = again.edge.streams.counters.drops
  t.ok(drops['no-association'] >= 1, `the dead association's packets reached the new process and were dropped (${drops['no-association']} no-association)`)
  t.equal(device.edge.streams.counters.drops['role-conflict'], 0, 'no role conflict on the device')
  t.equal(again.edge.streams.counters.refused['no-service'], 0, 'the restarted technician was never refused')
})
