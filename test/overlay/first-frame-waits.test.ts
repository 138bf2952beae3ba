// A frame from the host before the edge has registered (the kernel's first ARP request) waits for
// the registration instead of being lost: the first ping does not pay the kernel's 1 s ARP retry.
import t from 'tap'
import { Supernode } from '../../src/supernode/supernode.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { arpBroadcast } from '../fixtures/frames.js'
import { isRegistered, registered, startEdge } from '../fixtures/overlay.js'

t.test('a broadcast sent before registration reaches the peer once registered', async (t) => {
  // a port where no supernode answers yet: a's first frame certainly comes before its registration
  const placeholder = await Supernode.start({ port: 0, bindAddress: '127.0.0.1', mgmt: null })
  const port = placeholder.port
  await placeholder.stop()
  // today's date: the supernode judges a's certificate by its own clock
  const clock = new ManualClock(Date.now())
  const a = await startEdge(t, [port], { clock })
  a.tap.inject(arpBroadcast(a.tap.mac, a.edge.overlay!.address))
  t.notOk(isRegistered(a), 'not registered when the frame came')

  const sn = await Supernode.start({ port, bindAddress: '127.0.0.1', mgmt: null })
  t.teardown(() => sn.stop())
  const b = await startEdge(t, [port])
  await registered(b)
  await clock.advance(5_000, 250) // a's HELLO retries: it registers now, after b
  await registered(a)
  await b.tap.waitForWritten(1)
  t.same(b.tap.written[0]!.subarray(6, 12), a.tap.mac, 'the early frame arrived')
  t.equal(a.edge.status().drops['no-supernode'], 0, 'nothing was dropped for lack of a supernode')
})

t.test('frames held longer than 5 s are dropped and counted, not sent late', async (t) => {
  // today's date: the supernode judges a's certificate by its own clock
  const clock = new ManualClock(Date.now())
  // a supernode port where nobody answers yet
  const placeholder = await Supernode.start({ port: 0, bindAddress: '127.0.0.1', mgmt: null }, { clock })
  const port = placeholder.port
  await placeholder.stop()
  const a = await startEdge(t, [port], { clock })
  a.tap.inject(arpBroadcast(a.tap.mac, a.edge.overlay!.address))
  await clock.advance(6_000, 500)
  const sn = await Supernode.start({ port, bindAddress: '127.0.0.1', mgmt: null }, { clock })
  t.teardown(() => sn.stop())
  await clock.advance(5_000, 100)
  await registered(a)
  t.equal(a.edge.status().drops['no-supernode'], 1, 'the stale frame was counted as dropped')
  t.equal(sn.counters.relayedFrames, 0, 'and not relayed')
})
