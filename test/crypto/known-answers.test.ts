// Known-answer vectors (test/fixtures/crypto-vectors.json, made once by generate-crypto-vectors.ts):
// the derivation, the sealed layout and the signatures must not drift, or edges of two versions
// would stop understanding each other.
import { readFileSync } from 'node:fs'
import sodium from 'sodium-native'
import t from 'tap'
import { FrameCipher, communityIdOf, deriveCommunityKeys, edgeIdOf, sign, verify } from '../../src/crypto/index.js'
import { SEALED_HEADER_BYTES, SealedHeader, readSealedHeader } from '../../src/wire/index.js'

interface Vectors {
  kdf: { community: string; secret: string; communityId: string; signPublicKey: string; dataKey: string }[]
  aead: { dataKey: string; payload: string; packet: string }[]
  signature: { seed: string; publicKey: string; message: string; signature: string; edgeId: number }
}
const vectors = JSON.parse(readFileSync(new URL('../fixtures/crypto-vectors.json', import.meta.url), 'utf8')) as Vectors

t.test('community keys from name and secret', async (t) => {
  for (const v of vectors.kdf) {
    const keys = await deriveCommunityKeys(v.community, v.secret)
    t.equal(keys.communityId.toString('hex'), v.communityId, `community ID of ${v.community}`)
    t.equal(keys.signPublicKey.toString('hex'), v.signPublicKey, `signing key of ${v.community}`)
    t.equal(keys.dataKey.toString('hex'), v.dataKey, `data key of ${v.community}`)
    t.ok(communityIdOf(keys.signPublicKey).equals(keys.communityId), 'the community ID is the hash of the signing public key')
  }
})

t.test('sealed packets', (t) => {
  for (const v of vectors.aead) {
    const packet = Buffer.from(v.packet, 'hex')
    const cipher = new FrameCipher(Buffer.from(v.dataKey, 'hex'))
    const header = new SealedHeader()
    t.equal(readSealedHeader(packet, header), null)
    const out = Buffer.alloc(packet.length)
    const length = cipher.open(packet, out)
    t.equal(out.subarray(0, length).toString('hex'), v.payload, `opens to the known payload (${length} bytes)`)
    const again = Buffer.alloc(packet.length)
    packet.copy(again, 0, 0, SEALED_HEADER_BYTES)
    cipher.seal(again, Buffer.from(v.payload, 'hex'))
    t.equal(again.toString('hex'), v.packet, 'seals to the known bytes')
  }
  t.end()
})

t.test('signatures and edge IDs', (t) => {
  const v = vectors.signature
  const pk = Buffer.alloc(32)
  const sk = Buffer.alloc(64)
  sodium.crypto_sign_seed_keypair(pk, sk, Buffer.from(v.seed, 'hex'))
  t.equal(pk.toString('hex'), v.publicKey)
  const message = Buffer.from(v.message, 'hex')
  t.equal(sign('record', message, sk).toString('hex'), v.signature)
  t.ok(verify('record', message, Buffer.from(v.signature, 'hex'), pk))
  t.notOk(verify('deregister', message, Buffer.from(v.signature, 'hex'), pk), 'a record signature is not a deregistration signature')
  t.equal(edgeIdOf(pk), v.edgeId)
  t.end()
})
