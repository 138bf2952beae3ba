// Identities: the X25519 form Noise uses agrees with the Ed25519 key, fingerprints read back, and
// the one-line text form of keys and certificates is strict (one text per value, nothing else).
import sodium from 'sodium-native'
import t from 'tap'
import {
  armor,
  formatFingerprint,
  generateIdentity,
  identityFromSeed,
  keyFingerprint,
  parseFingerprint,
  secretMemory,
  seedOf,
  unarmor,
  x25519PublicKeyOf,
  x25519SecretKeyOf,
} from '../../src/crypto/index.js'

t.test('the X25519 form of an identity is a key pair, and both sides of a pair agree on a secret', (t) => {
  const a = generateIdentity()
  const b = generateIdentity()
  const aSecret = x25519SecretKeyOf(a)
  const derived = Buffer.alloc(32)
  // typed here, not in sodium-native.d.ts: the pair-sessions branch declares it there too
  const withBase = sodium as unknown as { crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void }
  withBase.crypto_scalarmult_base(derived, aSecret)
  t.ok(derived.equals(x25519PublicKeyOf(a.publicKey)!), "the converted secret key's public key is the converted public key")
  t.equal(x25519PublicKeyOf(Buffer.alloc(32, 0xff)), null, 'a key that is not a curve point has no X25519 form (null, not a throw)')
  t.equal(x25519PublicKeyOf(Buffer.alloc(31)), null, 'nor a key of the wrong length')
  t.ok(x25519SecretKeyOf(b).length === 32 && !x25519PublicKeyOf(b.publicKey)!.equals(x25519PublicKeyOf(a.publicKey)!), 'distinct members, distinct keys')
  t.end()
})

t.test('an identity comes back from its seed, and lives in secret memory', (t) => {
  const before = secretMemory.counts.locked + secretMemory.counts.unlocked
  const a = generateIdentity()
  const again = identityFromSeed(seedOf(a))
  t.ok(again.publicKey.equals(a.publicKey) && again.secretKey.equals(a.secretKey), 'same key pair')
  t.ok(secretMemory.counts.locked + secretMemory.counts.unlocked >= before + 3, 'secret key, seed and the copy came from the secret allocator')
  t.throws(() => identityFromSeed(Buffer.alloc(31)), RangeError)
  t.end()
})

t.test('fingerprints: 32 base32 symbols that parse back, in any case', (t) => {
  for (let i = 0; i < 50; i++) {
    const text = keyFingerprint(generateIdentity().publicKey)
    t.match(text, /^[a-z2-7]{32}$/)
    t.equal(formatFingerprint(parseFingerprint(text.toUpperCase())!), text)
  }
  for (const bad of ['', 'a'.repeat(31), 'a'.repeat(33), '1'.repeat(32), 'a'.repeat(31) + '=']) t.equal(parseFingerprint(bad), null, `refused: "${bad}"`)
  t.end()
})

t.test('armored text: round trip for every length, refusals for everything else', (t) => {
  for (let length = 1; length <= 40; length++) {
    const bytes = Buffer.alloc(length)
    sodium.randombytes_buf(bytes)
    const text = armor('certificate', bytes)
    t.equal(text.toString(), `overlan-certificate-v1 ${bytes.toString('base64')}\n`, `${length} bytes as Node's base64 writes them`)
    const back = unarmor('certificate', text)
    t.ok(back.ok && back.bytes.equals(bytes), `${length} bytes read back`)
    const noNewline = unarmor('certificate', text.subarray(0, text.length - 1))
    t.ok(noNewline.ok && noNewline.bytes.equals(bytes), 'the final newline is optional')
  }
  const key = Buffer.alloc(32, 7)
  const good = armor('publicKey', key).toString()
  const refused: [string, string][] = [
    [good.replace('overlan-public-key-v1', 'overlan-identity-v1'), 'first word'],
    [good.replace('-v1', '-v2'), 'first word'],
    ['overlan-public-key-v1' + good.slice(21).replace(' ', '  '), 'extra characters'],
    [good.replace('\n', '\n\n'), 'extra characters'],
    [good.replace('Bwc', 'B\nc'), 'not base64'],
    [good.slice(0, -3) + '\n', 'cut short'],
    [good.replace('Bwc', 'B*c'), 'not base64'],
    // "Bw==" and "Bx==" would both mean 0x07: only the one with zero leftover bits is the text
    [armor('publicKey', Buffer.from([7])).toString().replace('Bw==', 'Bx=='), 'canonical'],
    ['overlan-public-key-v1 \n', 'cut short'],
    ['', 'first word'],
  ]
  for (const [text, problem] of refused) {
    const result = unarmor('publicKey', Buffer.from(text))
    t.ok(!result.ok && result.problem.includes(problem), `refused (${problem}): ${JSON.stringify(text)}`)
  }
  t.end()
})

t.test('secret kinds are written and read in secret memory', (t) => {
  const seed = Buffer.alloc(32, 9)
  const before = secretMemory.counts.locked + secretMemory.counts.unlocked
  const text = armor('identity', seed)
  const back = unarmor('identity', text)
  t.ok(back.ok && back.bytes.equals(seed))
  t.ok(secretMemory.counts.locked + secretMemory.counts.unlocked >= before + 2, 'the text and the decoded seed both came from the secret allocator')
  t.end()
})
