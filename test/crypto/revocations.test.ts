// Revocations: signed by the authority, naming the certificate by fingerprint, kept by holders only
// until the certificate's own end, and never more than a bounded number of them.
import t from 'tap'
import {
  RevocationList,
  certificateFingerprint,
  generateAuthority,
  generateIdentity,
  issueCertificate,
  signRevocation,
  verifyCertificate,
  verifyRevocation,
} from '../../src/crypto/index.js'
import { REVOCATION_BYTES, decodeCertificate, decodeRevocation, encodeRevocation, encodeRevocationBody, type Certificate, type Revocation } from '../../src/wire/index.js'

const NOW = 1_800_000_000
const authority = generateAuthority()

function certificate(serial: number, notAfter = NOW + 3600): Certificate {
  const bytes = issueCertificate(authority, {
    role: 'technician',
    serial,
    notBefore: NOW,
    notAfter,
    memberKey: generateIdentity().publicKey,
    mac: Buffer.from('02aabbccddee', 'hex'),
    ipv4: { address: '10.9.0.5', prefix: 24 },
    ipv6: null,
    name: `tech ${serial}`,
  })
  const decoded = decodeCertificate(bytes)
  if (!decoded.ok) throw new Error(decoded.reason)
  return decoded.value
}

function revocationOf(cert: Certificate, by = authority): Revocation {
  const decoded = decodeRevocation(signRevocation(by, cert, NOW + 10))
  if (!decoded.ok) throw new Error(decoded.reason)
  return decoded.value
}

t.test('a revocation names its certificate and re-encodes to the same bytes', (t) => {
  const cert = certificate(3)
  const rev = revocationOf(cert)
  t.equal(rev.bytes.length, REVOCATION_BYTES)
  t.equal(REVOCATION_BYTES, 144)
  t.ok(rev.fingerprint.equals(certificateFingerprint(cert)), 'by fingerprint')
  t.equal(rev.serial, 3, 'by serial')
  t.equal(rev.notAfter, cert.notAfter, "carries the certificate's notAfter")
  t.equal(rev.revokedAt, NOW + 10)
  t.ok(encodeRevocation(encodeRevocationBody(rev), rev.signature).equals(rev.bytes), 'canonical')
  t.same(verifyRevocation(rev, authority.communityId), { ok: true })
  t.end()
})

t.test('only the authority of the community can revoke', (t) => {
  const cert = certificate(4)
  t.same(verifyRevocation(revocationOf(cert), generateAuthority().communityId), { ok: false, reason: 'wrong-community' })
  const member = generateIdentity()
  const forged = revocationOf(cert, { ...authority, secretKey: member.secretKey })
  t.same(verifyRevocation(forged, authority.communityId), { ok: false, reason: 'bad-signature' }, "a member signing under the authority's key")
  t.end()
})

t.test('a kept revocation makes its certificate fail verification, and is forgotten after notAfter', (t) => {
  const list = new RevocationList()
  const cert = certificate(5)
  const rev = revocationOf(cert)
  t.equal(list.add(rev, NOW), 'added')
  t.equal(list.add(rev, NOW), 'known', 'the same revocation again changes nothing')
  t.same(verifyCertificate(cert, { communityId: authority.communityId, nowSeconds: NOW, revocations: list }), { ok: false, reason: 'revoked' })
  t.ok(verifyCertificate(certificate(6), { communityId: authority.communityId, nowSeconds: NOW, revocations: list }).ok, 'other certificates stay good')
  t.equal(list.prune(cert.notAfter - 1), 0, 'kept while the certificate could still be good')
  t.equal(list.prune(cert.notAfter), 1, "forgotten at the certificate's notAfter, when it is refused as expired anyway")
  t.equal(list.size, 0)
  t.equal(list.add(rev, cert.notAfter), 'outlived', 'a revocation of an expired certificate is not kept')
  t.end()
})

t.test('the list is bounded: full of live revocations, a new one is refused; expired ones make room', (t) => {
  const list = new RevocationList(3)
  const short = certificate(10, NOW + 100)
  t.equal(list.add(revocationOf(short), NOW), 'added')
  t.equal(list.add(revocationOf(certificate(11)), NOW), 'added')
  t.equal(list.add(revocationOf(certificate(12)), NOW), 'added')
  t.equal(list.add(revocationOf(certificate(13)), NOW), 'full', 'a fourth live one does not fit')
  t.equal(list.size, 3)
  t.equal(list.add(revocationOf(certificate(14)), NOW + 100), 'added', 'once the short certificate has expired, its place is free')
  t.notOk(list.isRevoked(certificateFingerprint(short)))
  t.end()
})
