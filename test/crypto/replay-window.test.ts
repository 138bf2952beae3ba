// The replay window: each counter once, reordering within 2048 accepted, older refused.
import t from 'tap'
import { REPLAY_WINDOW, ReplayWindow } from '../../src/crypto/index.js'

function receive(w: ReplayWindow, counter: number): string {
  const verdict = w.check(counter)
  if (verdict === 'fresh') w.accept(counter)
  return verdict
}

t.test('a replayed counter is refused', (t) => {
  const w = new ReplayWindow()
  t.equal(receive(w, 1), 'fresh')
  t.equal(receive(w, 1), 'replayed')
  t.equal(receive(w, 2), 'fresh')
  t.equal(receive(w, 1), 'replayed')
  t.end()
})

t.test('out of order within the window is accepted exactly once', (t) => {
  const w = new ReplayWindow()
  t.equal(receive(w, 5000), 'fresh')
  for (const c of [4999, 3000, 5000 - REPLAY_WINDOW + 1, 4001]) {
    t.equal(receive(w, c), 'fresh', `${c} first time`)
    t.equal(receive(w, c), 'replayed', `${c} second time`)
  }
  t.equal(receive(w, 5000 - REPLAY_WINDOW), 'too-old', 'just outside the window')
  t.ok(REPLAY_WINDOW >= 1024)
  t.end()
})

t.test('a forged packet checked but not accepted does not move the window', (t) => {
  const w = new ReplayWindow()
  receive(w, 10)
  t.equal(w.check(1_000_000), 'fresh')
  // (authentication failed: no accept)
  t.equal(receive(w, 9), 'fresh', 'older counters still accepted')
  t.equal(w.highest, 10)
  t.end()
})

t.test('a jump larger than the window forgets old bits; slots reused after wrap are fresh', (t) => {
  const w = new ReplayWindow()
  let refusedInOrder = 0
  for (let c = 1; c <= 3 * REPLAY_WINDOW; c++) if (receive(w, c) !== 'fresh') refusedInOrder++
  t.equal(refusedInOrder, 0, 'counters in order are all fresh, across several wraps of the ring')
  t.equal(receive(w, 3 * REPLAY_WINDOW), 'replayed')
  t.equal(receive(w, 10 * REPLAY_WINDOW + 3), 'fresh')
  t.equal(receive(w, 10 * REPLAY_WINDOW + 3 - REPLAY_WINDOW + 1), 'fresh', 'slot shared with an old counter is clean')
  t.equal(receive(w, 2 ** 53 - 1), 'fresh', 'the largest counter')
  t.equal(receive(w, 2 ** 53 - 2), 'fresh')
  t.equal(receive(w, 2 ** 53 - 2), 'replayed')
  t.end()
})
