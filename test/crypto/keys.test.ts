// Secrets and key derivation: strength, separation between communities, input checks.
import t from 'tap'
import { SECRET_BITS, deriveCommunityKeys, destroyKeys, generateEdgeIdentity, generateSecret, edgeIdOf } from '../../src/crypto/index.js'

t.test('generated secrets carry at least 190 bits and never repeat', (t) => {
  t.ok(SECRET_BITS >= 190, `${SECRET_BITS} bits`)
  const secrets = Array.from({ length: 1000 }, () => generateSecret())
  t.ok(secrets.every((s) => /^[A-Za-z0-9_-]{32}$/.test(s)), '32 symbols of the 64-symbol nanoid alphabet')
  t.equal(new Set(secrets).size, 1000, 'no repeats in 1000')
  t.end()
})

t.test('same secret, other community: unrelated keys', async (t) => {
  const a = await deriveCommunityKeys('a', 'secret')
  const b = await deriveCommunityKeys('b', 'secret')
  t.notOk(a.communityId.equals(b.communityId))
  t.notOk(a.signPublicKey.equals(b.signPublicKey))
  t.notOk('dataKey' in a, 'there is no shared data key any more (protocol v2: pair sessions)')
})

t.test('empty or oversized inputs are refused', async (t) => {
  await t.rejects(deriveCommunityKeys('', 'x'), RangeError)
  await t.rejects(deriveCommunityKeys('x'.repeat(65), 'x'), RangeError)
  await t.rejects(deriveCommunityKeys('lab', ''), RangeError)
})

t.test('destroyKeys wipes the secret parts', async (t) => {
  const keys = await deriveCommunityKeys('lab', 'secret')
  destroyKeys(keys)
  t.ok(keys.signSecretKey.every((b) => b === 0))
})

t.test("community keys and identity keys are made in sodium's guarded memory", async (t) => {
  const secure = (buf: Buffer): boolean => (buf as Buffer & { secure?: boolean }).secure === true
  const keys = await deriveCommunityKeys('lab', Buffer.from('secret'))
  t.ok(secure(keys.signSecretKey), 'signing key')
  t.ok(secure(generateEdgeIdentity().secretKey), 'identity key')
  t.same(keys.signSecretKey, (await deriveCommunityKeys('lab', 'secret')).signSecretKey, 'a secret given as bytes derives what the same text does')
})

t.test('edge identities: fresh each time, ID is a nonzero 53-bit number derived from the key', (t) => {
  const a = generateEdgeIdentity()
  const b = generateEdgeIdentity()
  t.not(a.edgeId, b.edgeId)
  for (const e of [a, b]) {
    t.ok(Number.isSafeInteger(e.edgeId) && e.edgeId > 0)
    t.equal(edgeIdOf(e.publicKey), e.edgeId)
  }
  t.end()
})
