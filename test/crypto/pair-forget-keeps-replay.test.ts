// A forgotten session (the peer was removed: gone, expired, revoked) erases its keys, and its
// newest initiation timestamp stays with the table until the time the edge gives (the peer
// certificate's notAfter): a recorded initiation cannot open a session with that peer again, and
// the peer's own fresh initiation can.
import t from 'tap'
import { KEEPALIVE_TIMEOUT_MS, REKEY_TIMEOUT_MS } from '../../src/crypto/noise-session.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { Community } from '../fixtures/pair-sessions.js'

function started(): { c: Community; a: ReturnType<Community['add']>; b: ReturnType<Community['add']>; recorded: Buffer } {
  const c = new Community(new ManualClock())
  const a = c.add('a')
  const b = c.add('b')
  c.session(a, b).initiate()
  const recorded = Buffer.from(c.queue[0]!.packet)
  c.flush()
  return { c, a, b, recorded }
}

t.test('a recorded initiation cannot open a session with a forgotten peer before the time given', (t) => {
  const { c, a, b, recorded } = started()
  const bSession = c.session(b, a)
  t.equal(bSession.state, 'ready')
  const keys = bSession.current!
  b.table.forget(bSession, c.clock.now() + 60_000)
  t.ok(keys.erased, 'keys erased')
  t.equal(b.table.size, 0)
  t.equal(b.table.indexCount, 0, 'every index given back')

  c.clock.jump(5_000)
  const verdict = c.deliver({ from: a, to: b, packet: recorded })
  t.same(verdict, { kind: 'dropped', reason: 'replayed-initiation' }, 'the recorded initiation is refused')
  t.equal(c.queue.length, 0, 'and not answered')
  t.equal(b.table.indexCount, 0, 'no index given out for it')

  // the peer itself, starting afresh (a newer timestamp), is answered
  c.session(a, b).close()
  a.table.forget(c.session(a, b))
  c.session(a, b).initiate()
  c.flush()
  t.equal(c.session(b, a).state, 'ready', 'a fresh initiation opens a new session')
  t.end()
})

t.test('past the time given, the kept replay state is dropped', (t) => {
  const { c, a, b, recorded } = started()
  b.table.forget(c.session(b, a), c.clock.now() + 1_000)
  c.clock.jump(2_000)
  const verdict = c.deliver({ from: a, to: b, packet: recorded })
  t.equal(verdict.kind, 'handshake', 'answered (the certificate’s own expiry refuses it in the edge: its verifier checks notAfter)')
  t.end()
})

t.test('a session the peer forgot: data unanswered for 15 s starts a new handshake, and data flows again', (t) => {
  const { c, a, b } = started()
  b.table.forget(c.session(b, a), c.clock.now() + 60_000) // b removed a (idle, say); a does not know
  t.equal(c.sendData(a, b, Buffer.from('lost')) > 0, true, 'a still seals with the old keys')
  c.flush()
  t.equal(b.delivered.length, 0, 'b cannot open it')
  c.clock.jump(KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS)
  c.tick()
  c.flush()
  t.equal(c.session(b, a).state, 'ready', 'a new handshake made a session b knows')
  c.sendData(a, b, Buffer.from('again'))
  c.flush()
  t.same(b.delivered.map(String), ['again'])
  t.end()
})

t.test('one-way traffic: the receiver’s keepalive answers it, so no handshake is started', (t) => {
  const { c, a, b } = started()
  const handshakes = (): number => c.session(a, b).counters.initiationsSent + c.session(b, a).counters.initiationsSent
  const before = handshakes()
  for (let s = 0; s < 60; s++) {
    c.sendData(a, b, Buffer.from(`one way ${s}`))
    c.flush()
    c.clock.jump(1_000)
    c.tick()
    c.flush()
  }
  t.equal(b.delivered.length, 60)
  t.equal(handshakes(), before, 'no new handshake in 60 s of data one way')
  t.end()
})
