// Known-answer vectors for protocol v2's identities and certificates
// (test/fixtures/certificate-vectors.json, made once by generate-certificate-vectors.ts): layouts,
// fingerprints, MACs from keys, the X25519 form and the file formats must not drift, or members and
// authorities of two versions would stop understanding each other.
import { readFileSync } from 'node:fs'
import t from 'tap'
import {
  armor,
  authorityFromIdentity,
  authorityOf,
  certificateFingerprint,
  deriveCommunityKeys,
  formatFingerprint,
  identityFromSeed,
  issueCertificate,
  keyFingerprint,
  macOfKey,
  signRevocation,
  verifyCertificate,
  verifyRevocation,
  x25519PublicKeyOf,
  x25519SecretKeyOf,
} from '../../src/crypto/index.js'
import { decodeCertificate, decodeRevocation } from '../../src/wire/index.js'
import { CERTIFICATE_VECTOR_FIELDS } from '../fixtures/certificate-vector-fields.js'

interface Vectors {
  authority: { seed: string; publicKey: string; communityId: string; authorityFile: string }
  identity: { seed: string; publicKey: string; fingerprint: string; mac: string; x25519PublicKey: string; x25519SecretKey: string; identityFile: string; publicKeyFile: string }
  certificates: { certificate: string; fingerprint: string; revocation: string }[]
  sharedSecret: { community: string; secret: string; authorityPublicKey: string; communityId: string }
}
const vectors = JSON.parse(readFileSync(new URL('../fixtures/certificate-vectors.json', import.meta.url), 'utf8')) as Vectors
const authority = authorityFromIdentity(identityFromSeed(Buffer.from(vectors.authority.seed, 'hex')))
const member = identityFromSeed(Buffer.from(vectors.identity.seed, 'hex'))

t.test('identity: public key, fingerprint, MAC, X25519 form and file texts', (t) => {
  const v = vectors.identity
  t.equal(member.publicKey.toString('hex'), v.publicKey)
  t.equal(keyFingerprint(member.publicKey), v.fingerprint)
  t.equal(macOfKey(member.publicKey).toString('hex'), v.mac)
  t.equal(x25519PublicKeyOf(member.publicKey)!.toString('hex'), v.x25519PublicKey)
  t.equal(x25519SecretKeyOf(member).toString('hex'), v.x25519SecretKey)
  t.equal(armor('identity', Buffer.from(v.seed, 'hex')).toString(), v.identityFile)
  t.equal(armor('publicKey', member.publicKey).toString(), v.publicKeyFile)
  t.equal(authority.communityId.toString('hex'), vectors.authority.communityId, 'community ID of an authority')
  t.equal(armor('authority', Buffer.from(vectors.authority.seed, 'hex')).toString(), vectors.authority.authorityFile)
  t.end()
})

t.test('certificates and revocations: the same bytes from the same fields, and they verify', (t) => {
  CERTIFICATE_VECTOR_FIELDS.forEach((fields, i) => {
    const v = vectors.certificates[i]!
    const bytes = issueCertificate(authority, { ...fields, memberKey: member.publicKey, mac: Buffer.from(fields.mac, 'hex') })
    t.equal(bytes.toString('hex'), v.certificate, `certificate ${i} (${fields.role}, ${bytes.length} bytes)`)
    const cert = decodeCertificate(Buffer.from(v.certificate, 'hex'))
    if (!cert.ok) return t.fail(cert.reason)
    t.equal(formatFingerprint(certificateFingerprint(cert.value)), v.fingerprint)
    t.ok(verifyCertificate(cert.value, { communityId: authority.communityId, nowSeconds: fields.notBefore }).ok, 'verifies')
    t.equal(signRevocation(authority, cert.value, fields.notBefore + 60).toString('hex'), v.revocation, `revocation ${i}`)
    const rev = decodeRevocation(Buffer.from(v.revocation, 'hex'))
    t.ok(rev.ok && verifyRevocation(rev.value, authority.communityId).ok, 'the revocation verifies')
  })
  t.end()
})

t.test('shared secret: the authority is the community key version 1 derives', async (t) => {
  const v = vectors.sharedSecret
  const keys = await deriveCommunityKeys(v.community, v.secret)
  t.equal(authorityOf(keys).publicKey.toString('hex'), v.authorityPublicKey)
  t.equal(keys.communityId.toString('hex'), v.communityId)
  const v1 = JSON.parse(readFileSync(new URL('../fixtures/crypto-vectors.json', import.meta.url), 'utf8')) as { kdf: { community: string; communityId: string }[] }
  t.equal(v.communityId, v1.kdf.find((k) => k.community === v.community)!.communityId, "the same community ID as version 1's vectors")
})
