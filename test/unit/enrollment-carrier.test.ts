// The race between UDP and the fallback for a technician's enrollment asks (src/edge/enrollment-carrier.ts),
// with a fake stream and an injected clock: UDP that answers within its head start wins and the
// stream is closed; otherwise the asks move to the stream once it is open and the head start has
// passed, never before; a HELLO over UDP is due every UDP_RETRY_ON_FALLBACK_MS while on the stream;
// a failed dial waits 1 s, then 2 s; a stream that closes while carrying the asks starts the race
// again; a dial that completes after a new race began is closed unused.
import t from 'tap'
import { EnrollmentCarrier } from '../../src/edge/enrollment-carrier.js'
import { FALLBACK_RETRY_FIRST_MS, UDP_HEAD_START_MS, UDP_RETRY_ON_FALLBACK_MS } from '../../src/edge/supernode-link.js'
import type { Transport } from '../../src/net/transport.js'
import type { StreamCarrier } from '../../src/net/ws-carrier.js'
import { ManualClock } from '../../src/time/manual-clock.js'

const URL_A = new URL('wss://sn.example/overlan')

class FakeStream implements StreamCarrier {
  readonly kind = 'tls' as const
  readonly url = URL_A.href
  readonly sent: Buffer[] = []
  closed = false
  private closedListener: (why: string) => void = () => {}
  send(buf: Buffer, offset: number, length: number): void {
    this.sent.push(Buffer.from(buf.subarray(offset, offset + length)))
  }
  sendWithTtl(): void {}
  onDatagram(): void {}
  onClosed(listener: (why: string) => void): void {
    this.closedListener = listener
  }
  local(): { address: string; port: number } {
    return { address: '127.0.0.1', port: 443 }
  }
  pendingSends(): number {
    return 0
  }
  flush(): Promise<void> {
    return Promise.resolve()
  }
  close(): Promise<void> {
    this.closed = true
    return Promise.resolve()
  }
  /** the far end goes away */
  drop(why: string): void {
    this.closedListener(why)
  }
}

/** A carrier whose dials the test settles by hand; what it told its host. */
function setup() {
  const clock = new ManualClock()
  const udpSent: Buffer[] = []
  const udp = { send: (buf: Buffer) => void udpSent.push(Buffer.from(buf)) } as unknown as Transport
  const dials: { url: URL; resolve: (s: StreamCarrier) => void; reject: (e: Error) => void }[] = []
  const events = { lost: 0, notices: [] as string[] }
  const carrier = new EnrollmentCarrier(udp, (url) => new Promise((resolve, reject) => dials.push({ url, resolve, reject })), clock, {
    received: () => {},
    lost: () => void events.lost++,
    notice: (line) => void events.notices.push(line),
    dropped: () => {},
  })
  const start = clock.now()
  /** moves the clock to `at` (ms from the start), ticking every 100 ms as the client does; true if a tick moved the asks */
  const tickTo = async (at: number): Promise<boolean> => {
    let moved = false
    while (clock.now() < start + at) {
      await clock.advance(100, 100)
      moved = carrier.tick(clock.now()) || moved
    }
    return moved
  }
  return { clock, carrier, dials, events, udpSent, tickTo, start }
}

/** Lets the promise callbacks of a settled dial run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** A race toward sn.example with URL_A as its fallback, begun now; its first dial answered with an open stream. */
async function raceWithOpenStream(s: ReturnType<typeof setup>): Promise<FakeStream> {
  s.carrier.begin('sn.example:7654', URL_A, s.clock.now())
  s.carrier.tick(s.clock.now())
  const stream = new FakeStream()
  s.dials[0]!.resolve(stream)
  await settle()
  return stream
}

t.test('UDP that answers within its head start wins: the stream opened meanwhile is closed, the asks stay on UDP', async (t) => {
  const s = setup()
  const stream = await raceWithOpenStream(s)
  t.equal(s.dials.length, 1, 'the fallback is dialled at once')
  t.equal(s.carrier.transport, 'udp', 'the asks start on UDP')
  t.ok(s.carrier.pending, 'an open stream within the head start keeps the target from being given up')
  await s.tickTo(UDP_HEAD_START_MS - 200)
  s.carrier.udpWorks()
  t.ok(stream.closed, 'the stream is closed')
  t.notOk(await s.tickTo(3 * UDP_HEAD_START_MS), 'the asks never move')
  t.equal(s.carrier.transport, 'udp')
  t.equal(s.dials.length, 1, 'and nothing is dialled again')
  s.carrier.send(Buffer.from('ask'), 7654, '192.0.2.1')
  t.equal(s.udpSent.length, 1, 'asks go out over UDP')
})

t.test('UDP silent: the asks move to the stream once the head start has passed, not before; UDP HELLOs are due every 5 s on it', async (t) => {
  const s = setup()
  const stream = await raceWithOpenStream(s)
  t.notOk(await s.tickTo(UDP_HEAD_START_MS - 100), 'not within the head start, though the stream is open')
  t.ok(await s.tickTo(UDP_HEAD_START_MS), `moved at ${s.clock.now() - s.start} ms`)
  t.equal(s.carrier.transport, 'tls')
  t.match(s.events.notices[0], /no UDP answer from supernode sn\.example:7654 within 1 s: asking over wss:\/\/sn\.example\/overlan \(tls\)/)
  s.carrier.send(Buffer.from('ask'), 7654, '192.0.2.1')
  t.equal(stream.sent.length, 1, 'asks go out over the stream')
  t.equal(s.udpSent.length, 0, 'not over UDP')
  const due: number[] = []
  while (s.clock.now() < s.start + UDP_HEAD_START_MS + 3 * UDP_RETRY_ON_FALLBACK_MS) {
    await s.clock.advance(100, 100)
    if (s.carrier.udpRetryDue(s.clock.now())) due.push(s.clock.now() - s.start)
  }
  t.same(due, [1, 2, 3].map((n) => UDP_HEAD_START_MS + n * UDP_RETRY_ON_FALLBACK_MS), 'a UDP HELLO is due every 5 s')
  s.carrier.udpWorks()
  t.ok(stream.closed, 'UDP back: the stream is closed')
  t.equal(s.carrier.transport, 'udp')
  t.match(s.events.notices.at(-1), /answers over UDP again: asking over UDP/)
})

t.test('a stream that closes while it carries the asks starts the race again and is dialled after 1 s; a failed dial after 2 s', async (t) => {
  const s = setup()
  const first = await raceWithOpenStream(s)
  await s.tickTo(UDP_HEAD_START_MS)
  t.equal(s.carrier.transport, 'tls')
  const droppedAt = s.clock.now()
  first.drop('connection closed (code 1006)')
  t.equal(s.events.lost, 1, 'the client is told: its cookie and exchange were bound to that connection')
  t.equal(s.carrier.transport, 'udp', 'the race starts again, UDP first')
  t.match(s.events.notices.at(-1), /fallback wss:\/\/sn\.example\/overlan closed \(connection closed \(code 1006\)\): asking again/)
  await s.tickTo(droppedAt - s.start + FALLBACK_RETRY_FIRST_MS - 100)
  t.equal(s.dials.length, 1, 'not dialled again before 1 s')
  await s.tickTo(droppedAt - s.start + FALLBACK_RETRY_FIRST_MS)
  t.equal(s.dials.length, 2, 'dialled again 1 s after')
  const failedAt = s.clock.now()
  s.dials[1]!.reject(new Error('TCP connection to sn.example:443 failed (ECONNREFUSED)'))
  await settle()
  t.match(s.events.notices.at(-1), /fallback wss:\/\/sn\.example\/overlan failed: TCP connection/)
  await s.tickTo(failedAt - s.start + 2 * FALLBACK_RETRY_FIRST_MS - 100)
  t.equal(s.dials.length, 2, 'the next after a longer wait')
  await s.tickTo(failedAt - s.start + 2 * FALLBACK_RETRY_FIRST_MS)
  t.equal(s.dials.length, 3, `dialled again ${2 * FALLBACK_RETRY_FIRST_MS} ms after the failure`)
  t.ok(s.carrier.pending, 'while a dial is out, UDP silence does not give the supernode up')
})

t.test('a dial that completes after a new race began (another supernode) is closed unused', async (t) => {
  const s = setup()
  s.carrier.begin('sn.example:7654', URL_A, s.clock.now())
  s.carrier.tick(s.clock.now())
  s.carrier.begin('sn2.example:7654', null, s.clock.now())
  const late = new FakeStream()
  s.dials[0]!.resolve(late)
  await settle()
  t.ok(late.closed, 'closed')
  t.notOk(await s.tickTo(3 * UDP_HEAD_START_MS), 'the asks stay on UDP: the new supernode has no fallback')
  t.equal(s.dials.length, 1, 'and nothing is dialled for it')
  t.notOk(s.carrier.pending)
})
