// Broadcasts under keys we do not have yet (their sender has no session with us so far) are held
// within bounds: per sender, in all, and for a few seconds; a member sending under made-up edge
// IDs cannot make an edge hold more.
import t from 'tap'
import { HELD_BROADCASTS_PER_SENDER, HELD_BROADCASTS_TOTAL, HELD_BROADCAST_MS, HeldBroadcasts } from '../../src/edge/held-broadcasts.js'

t.test('held broadcasts: bounded per sender and in all, handed back in order, dropped when old', (t) => {
  const held = new HeldBroadcasts()
  const packet = (n: number): Buffer => Buffer.from([n])
  let accepted = 0
  for (let i = 0; i < HELD_BROADCASTS_PER_SENDER + 5; i++) if (held.hold(1, packet(i), 0)) accepted++
  t.equal(accepted, HELD_BROADCASTS_PER_SENDER, `one sender: ${HELD_BROADCASTS_PER_SENDER} held, the rest refused`)
  let made = 0
  for (let id = 2; id < 10_000; id++) if (held.hold(id, packet(0), 0)) made++
  t.equal(held.size, HELD_BROADCASTS_TOTAL, `made-up senders: ${HELD_BROADCASTS_TOTAL} in all, never more`)
  t.equal(made, HELD_BROADCASTS_TOTAL - HELD_BROADCASTS_PER_SENDER)
  t.same(held.take(1).map((b) => b[0]), Array.from({ length: HELD_BROADCASTS_PER_SENDER }, (_, i) => i), 'the sender’s own, oldest first, once its key came')
  t.same(held.take(1), [], 'and forgotten')
  t.equal(held.expire(HELD_BROADCAST_MS - 1), 0, 'nothing dropped before its time')
  t.equal(held.expire(HELD_BROADCAST_MS), made, 'what waited too long is dropped')
  t.equal(held.size, 0)
  const copy = Buffer.from([9])
  held.hold(5, copy, 0)
  copy[0] = 7
  t.equal(held.take(5)[0]![0], 9, 'a copy is held (receive buffers are reused)')
  t.end()
})
