// Known-answer vectors (test/fixtures/crypto-vectors.json, made once by generate-crypto-vectors.ts):
// the derivation, the session data layout and the signatures must not drift, or edges of two
// versions would stop understanding each other. The community IDs are the ones protocol v1
// derived: a shared-secret community keeps its ID across the upgrade to v2.
import { readFileSync } from 'node:fs'
import sodium from 'sodium-native'
import t from 'tap'
import { communityIdOf, deriveCommunityKeys, edgeIdOf, sign, verify } from '../../src/crypto/index.js'
import { SessionKeys } from '../../src/crypto/session-keys.js'
import { SESSION_HEADER_BYTES, SESSION_TAG_BYTES, SessionDataHeader, readSessionDataHeader, type SessionKind } from '../../src/wire/index.js'

interface Vectors {
  kdf: { community: string; secret: string; communityId: string; signPublicKey: string }[]
  session: { key: string; receiverIndex: number; counter: number; kind: SessionKind; payload: string; packet: string }[]
  signature: { seed: string; publicKey: string; message: string; signature: string; edgeId: number }
}
const vectors = JSON.parse(readFileSync(new URL('../fixtures/crypto-vectors.json', import.meta.url), 'utf8')) as Vectors

t.test('community keys from name and secret (unchanged since protocol v1)', async (t) => {
  for (const v of vectors.kdf) {
    const keys = await deriveCommunityKeys(v.community, v.secret)
    t.equal(keys.communityId.toString('hex'), v.communityId, `community ID of ${v.community}`)
    t.equal(keys.signPublicKey.toString('hex'), v.signPublicKey, `signing key of ${v.community}`)
    t.ok(communityIdOf(keys.signPublicKey).equals(keys.communityId), 'the community ID is the hash of the signing public key')
  }
})

/** Session keys whose send and receive keys are both `key` (a session with itself). */
function keysOf(key: Buffer): SessionKeys {
  return new SessionKeys(0x0a0b0c0d, 0x01020304, true, 0, (slot) => {
    key.copy(slot, 0)
    key.copy(slot, 32)
  })
}

t.test('session data packets', (t) => {
  for (const v of vectors.session) {
    const packet = Buffer.from(v.packet, 'hex')
    const keys = keysOf(Buffer.from(v.key, 'hex'))
    const header = new SessionDataHeader()
    t.equal(readSessionDataHeader(packet, header), null)
    t.match(header, { receiverIndex: v.receiverIndex, counter: v.counter, kind: v.kind }, 'header fields')
    const out = Buffer.alloc(packet.length)
    const length = keys.open(packet, header.counter, out)
    t.equal(out.subarray(0, length).toString('hex'), v.payload, `opens to the known payload (${length} bytes)`)
    const changedKind = Buffer.from(packet)
    changedKind[2] = v.kind === 0 ? 1 : 0
    t.equal(keys.open(changedKind, header.counter, out), -1, 'the kind is authenticated: changed, the packet does not open')
    keys.sendCounter = v.counter - 1
    const again = Buffer.alloc(SESSION_HEADER_BYTES + length + SESSION_TAG_BYTES)
    keys.seal(again, Buffer.from(v.payload, 'hex'), v.kind)
    t.equal(again.toString('hex'), v.packet, 'seals to the known bytes')
    keys.erase()
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
  t.equal(sign('announcement', message, sk).toString('hex'), v.signature)
  t.ok(verify('announcement', message, Buffer.from(v.signature, 'hex'), pk))
  t.notOk(verify('deregister', message, Buffer.from(v.signature, 'hex'), pk), 'an announcement signature is not a deregistration signature')
  t.equal(edgeIdOf(pk), v.edgeId)
  t.end()
})
