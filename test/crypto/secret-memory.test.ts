// Secret memory: keys are made in locked, guarded memory; where the OS refuses to lock (simulated
// through the allocator's lock seam, never by changing the machine's limits) they live in ordinary
// memory, said once for any number of keys; either way destroySecret leaves them all zeros.
import { readFileSync } from 'node:fs'
import sodium from 'sodium-native'
import t from 'tap'
import { SecretAllocator, destroySecret, secretMemory } from '../../src/crypto/index.js'

const PAGE_KB = 4

/** Kilobytes of this process's memory locked in RAM (what mlock holds), from /proc. */
function lockedKb(): number {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmLck:'))
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN)
}

const allZero = (buf: Uint8Array): boolean => buf.length > 0 && buf.every((b) => b === 0)

t.test('a secret is made in locked memory: each one locks a page of its own', (t) => {
  const count = 8
  const before = lockedKb()
  const lockedBefore = secretMemory.counts.locked
  const secrets = Array.from({ length: count }, () => secretMemory.alloc(32))
  const grown = lockedKb() - before
  t.equal(secretMemory.counts.locked - lockedBefore, count, 'every one locked (RLIMIT_MEMLOCK allows it here)')
  t.ok(grown >= count * PAGE_KB, `VmLck grew by ${grown} kB for ${count} secrets`)
  t.ok(secrets.every((s) => s.length === 32 && allZero(s)), 'each starts as 32 zero bytes (sodium fills with 0xdb)')
  t.ok(secrets.every((s) => (s as Buffer & { secure?: boolean }).secure === true), "each is sodium's guarded memory")
  t.end()
})

t.test('destroySecret zeroes a secret, and the Buffer stays readable to whoever held it', (t) => {
  const secret = secretMemory.copyOf('correct horse battery staple')
  t.equal(secret.toString('utf8'), 'correct horse battery staple', 'the text went straight into secret memory')
  destroySecret(secret)
  t.equal(secret.length, 28)
  t.ok(allZero(secret), 'all zeros')
  t.end()
})

t.test('when the OS refuses to lock: ordinary memory, said once for any number of keys, still zeroed', (t) => {
  const reports: string[] = []
  const allocator = new SecretAllocator({ lock: () => false, report: (message) => reports.push(message) })
  const keys = Array.from({ length: 5 }, () => allocator.alloc(32))
  t.equal(reports.length, 1, 'one message for five keys')
  t.match(reports[0], /cannot lock memory for keys \(RLIMIT_MEMLOCK/, 'it names the limit and what to raise')
  t.same(allocator.counts, { locked: 0, unlocked: 5 })
  t.ok(keys.every((k) => (k as Buffer & { secure?: boolean }).secure !== true && allZero(k)), 'ordinary zeroed buffers')

  // a key in the fallback memory works as any other: seal with it, open with a copy
  keys[0]!.fill(7)
  const payload = Buffer.from('frame')
  const nonce = Buffer.alloc(12) // the IETF ChaCha20-Poly1305 nonce
  const packet = Buffer.alloc(payload.length + 16) // and its tag
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt(packet, payload, null, null, nonce, keys[0]!)
  const out = Buffer.alloc(payload.length)
  sodium.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, packet, null, nonce, Buffer.alloc(32, 7))
  t.same(out, payload, 'sealed with the fallback key, opened with its value')

  for (const k of keys) destroySecret(k)
  t.ok(keys.every(allZero), 'destroySecret zeroes fallback keys too')
  t.ok(allocator.copyOf('more') && reports.length === 1, 'and later keys say nothing more')
  t.end()
})

t.test('locking works again after a refusal: each key is tried, the message stays at one', (t) => {
  let refuse = true
  const reports: string[] = []
  const allocator = new SecretAllocator({ lock: () => !refuse, report: (message) => reports.push(message) })
  allocator.alloc(16)
  refuse = false
  const locked = allocator.alloc(16)
  t.same(allocator.counts, { locked: 1, unlocked: 1 })
  t.equal((locked as Buffer & { secure?: boolean }).secure, true, 'the second key is in guarded memory')
  t.equal(reports.length, 1)
  t.end()
})
