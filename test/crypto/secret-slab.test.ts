// The slab that holds transport keys: 64 slots share one secret allocation (one locked page for
// 64 sessions' keys instead of one each), a released slot is zeroed, and slots never overlap.
import t from 'tap'
import { SLOTS_PER_SLAB, SecretSlab } from '../../src/crypto/secret-slab.js'
import { secretMemory } from '../../src/crypto/secure-memory.js'

t.test('64 slots per secret allocation, zeroed when released, never overlapping', (t) => {
  const allocations: number[] = []
  const slab = new SecretSlab(64, (size) => {
    allocations.push(size)
    return Buffer.alloc(size)
  })
  const slots = Array.from({ length: SLOTS_PER_SLAB + 1 }, (_, i) => slab.take().fill(i + 1))
  t.same(allocations, [64 * SLOTS_PER_SLAB, 64 * SLOTS_PER_SLAB], `${SLOTS_PER_SLAB + 1} slots: two allocations`)
  t.ok(slots.every((s, i) => s.length === 64 && s.every((b) => b === i + 1)), 'each slot kept its own bytes: none overlaps another')
  const released = slots[5]!
  slab.release(released)
  t.ok(released.every((b) => b === 0), 'a released slot is zeroed')
  t.same(slab.counts, { slabs: 2, inUse: SLOTS_PER_SLAB })
  t.equal(slab.take(), released, 'and handed out again before any new allocation')
  t.same(allocations.length, 2)
  t.end()
})

t.test('by default a slab is one secret allocation (locked, guarded memory) for 64 slots', (t) => {
  const before = secretMemory.counts.locked + secretMemory.counts.unlocked
  const slab = new SecretSlab(32)
  const slots = Array.from({ length: SLOTS_PER_SLAB }, () => slab.take())
  t.equal(secretMemory.counts.locked + secretMemory.counts.unlocked - before, 1, 'one secret allocation for all 64')
  t.ok(slots.every((s) => s.every((b) => b === 0)), 'each starts zeroed')
  t.end()
})
