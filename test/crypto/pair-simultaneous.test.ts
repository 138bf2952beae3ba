// Starting at once, losing initiations, and a third member: two edges that initiate together end
// with one session (the lower static key's handshake wins); a lost initiation is retried with
// growing gaps and given up after 90 s; a member holding the community secret and its own valid
// certificate still cannot open the traffic of another pair.
import t from 'tap'
import { deriveCommunityKeys } from '../../src/crypto/keys.js'
import { REKEY_ATTEMPT_TIME_MS, RETRY_FIRST_MS, RETRY_JITTER_MS, RETRY_MAX_MS } from '../../src/crypto/noise-session.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { SessionPacketType } from '../../src/wire/handshake.js'
import { Community } from '../fixtures/pair-sessions.js'

t.test('both sides initiate at once: one handshake completes, both use the same session', (t) => {
  for (const order of ['a first', 'b first']) {
    const c = new Community(new ManualClock())
    const a = c.add('a')
    const b = c.add('b')
    const ab = c.session(a, b)
    const ba = c.session(b, a)
    ab.initiate()
    ba.initiate()
    if (order === 'b first') c.queue.reverse()
    c.flush()
    t.equal(ab.state, 'ready', `${order}: A ready`)
    t.equal(ba.state, 'ready', `${order}: B ready`)
    t.equal(ab.counters.handshakesCompleted + ba.counters.handshakesCompleted, 1, 'exactly one handshake completed')
    t.equal(ab.current!.localIndex, ba.current!.remoteIndex, 'B sends to the index A receives on')
    t.equal(ba.current!.localIndex, ab.current!.remoteIndex, 'and the reverse: one session')
    t.equal(ab.next ?? ba.next, null, 'no second set of keys waiting on either side')
    const winner = a.identity.publicKey.compare(b.identity.publicKey) < 0 ? a : b
    const loser = winner === a ? b : a
    t.equal(winner.table.drops['simultaneous-initiation'], 1, 'the lower static key ignored the other initiation')
    t.equal(c.session(loser, winner).counters.yieldedToPeer, 1, 'the other side gave its own up and answered')
    c.sendData(a, b, Buffer.from('a→b'))
    c.sendData(b, a, Buffer.from('b→a'))
    c.flush()
    t.same([b.delivered.map(String), a.delivered.map(String)], [['a→b'], ['b→a']])
  }
  t.end()
})

t.test("both initiate, the winner's initiation is lost: its retry completes the one session", (t) => {
  const c = new Community(new ManualClock())
  const a = c.add('a')
  const b = c.add('b')
  const winner = a.identity.publicKey.compare(b.identity.publicKey) < 0 ? a : b
  const loser = winner === a ? b : a
  c.session(winner, loser).initiate()
  c.session(loser, winner).initiate()
  c.queue = c.queue.filter((d) => d.from !== winner)
  c.flush()
  t.equal(winner.table.drops['simultaneous-initiation'], 1, "the loser's initiation is ignored while the winner's is pending")
  c.clock.jump(RETRY_FIRST_MS + RETRY_JITTER_MS)
  c.tick()
  c.flush()
  t.equal(c.session(a, b).state, 'ready')
  t.equal(c.session(b, a).state, 'ready')
  t.equal(c.session(a, b).current!.localIndex, c.session(b, a).current!.remoteIndex, 'one session')
  t.end()
})

t.test('a lost initiation is retried with growing gaps, then given up after 90 s', (t) => {
  const c = new Community(new ManualClock())
  const a = c.add('a')
  const b = c.add('b')
  const session = c.session(a, b)
  const start = c.clock.now()
  session.initiate()
  const sentAt: number[] = []
  while (c.clock.now() - start < REKEY_ATTEMPT_TIME_MS + 10_000) {
    for (const d of c.take()) if (d.packet[1] === SessionPacketType.HandshakeInit) sentAt.push(c.clock.now() - start)
    c.clock.jump(50)
    c.tick()
  }
  const gaps = sentAt.slice(1).map((at, i) => at - sentAt[i]!)
  t.ok(gaps[0]! >= RETRY_FIRST_MS && gaps[0]! <= RETRY_FIRST_MS + RETRY_JITTER_MS + 50, `first retry after ${gaps[0]} ms`)
  t.ok(gaps.every((g, i) => i === 0 || g >= gaps[i - 1]!), `gaps never shrink: ${gaps.slice(0, 5).join(', ')} ... ms`)
  t.ok(gaps.every((g) => g <= RETRY_MAX_MS + RETRY_JITTER_MS + 50), `and stay at most ${RETRY_MAX_MS + RETRY_JITTER_MS} ms`)
  t.ok(sentAt.at(-1)! < REKEY_ATTEMPT_TIME_MS, 'none sent after 90 s')
  t.equal(session.counters.handshakesFailed, 1, 'given up once')
  t.same(a.failed, [session], '`failed` told the edge')
  t.equal(session.state, 'idle')
  t.equal(a.table.indexCount, 0, 'no index left behind')
  t.equal(b.table.size, 0, 'B never heard of it')
  t.end()
})

t.test('a third member with the community secret and its own certificate cannot open A↔B traffic it captures', async (t) => {
  const c = new Community(new ManualClock())
  const a = c.add('a')
  const b = c.add('b')
  const m = c.add('mallory')
  // Mallory is a full member: sessions of her own with both
  c.session(m, a).initiate()
  c.session(m, b).initiate()
  c.flush()
  t.equal(c.session(m, a).state, 'ready')
  t.equal(c.session(m, b).state, 'ready')
  // she captures the whole A↔B exchange, handshake included
  c.session(a, b).initiate()
  const captured = []
  for (let i = 0; i < 50 && c.queue.length > 0; i++) {
    const d = c.queue.shift()!
    captured.push(Buffer.from(d.packet))
    c.deliver(d)
  }
  for (const [from, to, text] of [[a, b, 'secret for b'], [b, a, 'secret for a']] as const) {
    c.sendData(from, to, Buffer.from(text))
    captured.push(Buffer.from(c.queue[0]!.packet))
    c.flush()
  }
  t.same(b.delivered.map(String), ['secret for b'], 'B got its frame')

  const out = Buffer.alloc(4096)
  const opened: string[] = []
  // 1. her own session table, as it is
  for (const p of captured) if (m.table.receive(p, out).kind === 'data') opened.push('table')
  // 2. each of her receive keys, with the packet readdressed to that key's index
  for (const session of [c.session(m, a), c.session(m, b)]) {
    const keys = session.current!
    for (const p of captured.filter((p) => p[1] === SessionPacketType.SessionData)) {
      const readdressed = Buffer.from(p)
      readdressed.writeUInt32BE(keys.localIndex, 4)
      if (keys.open(readdressed, readdressed.readUInt32BE(12), out) >= 0) opened.push('her keys')
    }
  }
  // 3. the community secret: all it gives her now is the authority key (she can issue herself
  // certificates); v1's shared data key, which opened every frame, is no longer derived at all
  const derived = await deriveCommunityKeys('lab', 'the community secret')
  t.same(Object.keys(derived).sort(), ['communityId', 'signPublicKey', 'signSecretKey'], 'the secret derives no key that opens traffic')
  t.same(opened, [], 'nothing she captured opened, by any key she holds')
  t.ok(m.table.drops['unknown-index'] + m.table.drops['handshake-decrypt-failed'] + m.table.drops['no-handshake-pending'] >= captured.length, 'her table dropped all of it, counted')
})
