// Rekeying and forward secrecy: under continuous traffic both ways, with every packet (handshakes
// included) delivered one step late so that packets sealed under old keys arrive after the switch,
// the sessions rekey every two minutes and lose no frame; keys are rejected after three minutes,
// rekeyed by count, and zeroed as soon as they are replaced, expire or the session closes.
import t from 'tap'
import { IkHandshake, sessionPrologue, staticKeyFrom } from '../../src/crypto/noise-ik.js'
import { REJECT_AFTER_TIME_MS, REKEY_AFTER_TIME_MS } from '../../src/crypto/noise-session.js'
import type { SessionKeys } from '../../src/crypto/session-keys.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { Community, makeIdentity } from '../fixtures/pair-sessions.js'

const allZero = (b: Uint8Array): boolean => b.every((x) => x === 0)

t.test('10 minutes of traffic both ways, packets a step late: rekeys every ~2 minutes, no frame lost, replaced keys zeroed', (t) => {
  const clock = new ManualClock()
  const c = new Community(clock)
  const a = c.add('a')
  const b = c.add('b')
  const STEP_MS = 100
  const FRAMES_PER_STEP = 3
  const STEPS = 6_000 // 600 s
  const sent = { a: 0, b: 0 }
  let refusedSeals = 0
  const seen = new Set<SessionKeys>()
  let erasedChecked = 0
  let erasedNotZero = 0
  let held: typeof c.queue = []

  c.session(a, b).initiate()
  c.flush()
  for (let step = 0; step < STEPS; step++) {
    for (let i = 0; i < FRAMES_PER_STEP; i++) {
      for (const [from, to, name] of [[a, b, 'a'], [b, a, 'b']] as const) {
        const n = sent[name] + 1
        if (c.sendData(from, to, Buffer.from(`${name}:${n}`)) > 0) sent[name] = n
        else refusedSeals++
      }
    }
    // last step's packets arrive now, this step's next time: old-key packets land after every switch
    const now = c.take()
    for (const d of held) c.deliver(d)
    held = [...now, ...c.take()]
    clock.jump(STEP_MS)
    c.tick()
    held.push(...c.take())
    for (const side of [c.session(a, b), c.session(b, a)]) {
      for (const keys of [side.current, side.previous, side.next]) if (keys !== null) seen.add(keys)
    }
    for (const keys of seen) {
      if (!keys.erased) continue
      erasedChecked++
      if (!allZero(keys.keyBytesForTest())) erasedNotZero++
      seen.delete(keys)
    }
  }
  for (const d of held) c.deliver(d)
  c.flush()

  const inOrder = (m: typeof a, name: string, count: number): boolean => m.delivered.length === count && m.delivered.every((p, i) => p.toString() === `${name}:${i + 1}`)
  t.equal(refusedSeals, 0, 'the current keys could always seal: no frame had to wait for a rekey')
  t.ok(inOrder(b, 'a', sent.a), `B got all ${sent.a} frames from A, each once, in order`)
  t.ok(inOrder(a, 'b', sent.b), `A got all ${sent.b} frames from B, each once, in order`)
  const rekeys = c.session(a, b).counters.rekeys + c.session(b, a).counters.rekeys
  // one switch per REKEY_AFTER_TIME after the first handshake, each a little later than the last
  const expected = Math.floor((STEPS * STEP_MS) / REKEY_AFTER_TIME_MS) - 1
  t.ok(rekeys >= 2 * expected, `each side switched keys ${rekeys / 2} times on average (${expected} expected: one per ${REKEY_AFTER_TIME_MS / 1000} s)`)
  t.equal(a.table.drops['auth-failed'] + b.table.drops['auth-failed'] + a.table.drops['unknown-index'] + b.table.drops['unknown-index'], 0, 'nothing arrived for keys already gone')
  t.ok(erasedChecked >= rekeys, `${erasedChecked} replaced keys checked right after they were erased`)
  t.equal(erasedNotZero, 0, 'every one was all zeros')
  t.equal(c.session(a, b).counters.handshakesFailed, 0)
  t.end()
})

t.test('keys are used for three minutes at most: erased, and the next frame starts a handshake', (t) => {
  const clock = new ManualClock()
  const c = new Community(clock)
  const a = c.add('a')
  const b = c.add('b')
  c.session(a, b).initiate()
  c.flush()
  const keys = c.session(a, b).current!
  t.notOk(allZero(keys.keyBytesForTest()), 'live keys are not zero')
  clock.jump(REJECT_AFTER_TIME_MS)
  c.tick()
  t.ok(keys.erased && allZero(keys.keyBytesForTest()), 'past REJECT_AFTER_TIME: erased and zeroed')
  t.equal(c.session(a, b).state, 'idle')
  t.equal(c.session(b, a).state, 'idle', 'on both sides')
  t.equal(a.table.indexCount + b.table.indexCount, 0, 'their indices given back')
  t.equal(c.sendData(a, b, Buffer.from('late')), -1, 'a frame now waits in the pending queue...')
  c.flush()
  t.equal(c.session(a, b).state, 'ready', '...while a new handshake completes')
  t.equal(a.ready.length, 2, '`ready` fired again: the edge flushes its queue')
  t.end()
})

t.test('rekey by count: with the message limits scaled down, sessions rekey and keep every frame', (t) => {
  const c = new Community(new ManualClock(), { limits: { rekeyAfterMessages: 40, rejectAfterMessages: 60 } })
  const a = c.add('a')
  const b = c.add('b')
  c.session(a, b).initiate()
  c.flush()
  let sent = 0
  for (let i = 0; i < 400; i++) {
    if (c.sendData(a, b, Buffer.from(`f${i}`)) > 0) sent++
    if (i % 5 === 4) {
      c.flush()
      c.clock.jump(25) // frames take time: initiations from one peer are answered 50 a second at most
    }
  }
  c.flush()
  t.equal(sent, 400, 'every frame sealed')
  t.equal(b.delivered.length, 400, 'every frame opened')
  t.ok(c.session(a, b).counters.rekeys >= 400 / 40 - 1, `A rekeyed ${c.session(a, b).counters.rekeys} times`)
  t.ok(c.session(a, b).current!.sendCounter < 60, 'no keys sealed past the reject limit')
  t.end()
})

t.test('close zeroes every key of the session', (t) => {
  const c = new Community(new ManualClock())
  const a = c.add('a')
  const b = c.add('b')
  c.session(a, b).initiate()
  c.flush()
  c.clock.jump(REKEY_AFTER_TIME_MS)
  c.sendData(a, b, Buffer.from('x')) // starts a rekey
  c.flush()
  const session = c.session(a, b)
  const keys = [session.current, session.previous].filter((k): k is SessionKeys => k !== null)
  t.equal(keys.length, 2, 'current and previous held')
  a.table.forget(session)
  t.ok(keys.every((k) => k.erased && allZero(k.keyBytesForTest())), 'both zeroed')
  t.equal(session.state, 'closed')
  t.equal(c.sendData(b, a, Buffer.from('to a closed session')) > 0, true, 'B can still seal...')
  t.same(c.flush().at(-1), { kind: 'dropped', reason: 'unknown-index' }, '...but A has nothing left to open it with')
  t.end()
})

t.test('a handshake erases its ephemeral key, DH outputs and chaining keys once it has given its transport keys', (t) => {
  const prologue = sessionPrologue(Buffer.alloc(16, 1), 2)
  const alice = staticKeyFrom(makeIdentity())
  const bob = staticKeyFrom(makeIdentity())
  const initiator = IkHandshake.initiator(alice, bob.publicKey, prologue)
  const responder = IkHandshake.responder(bob, prologue)
  const tracked: Uint8Array[] = []
  const m1 = initiator.write(Buffer.from('hello'))
  tracked.push(...initiator.secretsForTest())
  const r1 = responder.read(m1)
  t.ok(r1.ok && r1.payload.toString() === 'hello')
  tracked.push(...responder.secretsForTest())
  const m2 = responder.write(Buffer.from('hi'))
  tracked.push(...responder.secretsForTest())
  const responderKeys = Buffer.alloc(64)
  responder.takeTransportKeys(responderKeys)
  tracked.push(...initiator.secretsForTest())
  t.ok(initiator.read(m2).ok)
  tracked.push(...initiator.secretsForTest())
  const initiatorKeys = Buffer.alloc(64)
  initiator.takeTransportKeys(initiatorKeys)
  t.same(initiatorKeys.subarray(0, 32), responderKeys.subarray(32), "initiator's send key is the responder's receive key")
  t.same(initiatorKeys.subarray(32), responderKeys.subarray(0, 32), 'and the reverse')
  t.ok(tracked.length >= 8, `${tracked.length} secret buffers tracked through the handshake`)
  t.ok(tracked.every(allZero), 'every one of them is zero now')
  t.end()
})
