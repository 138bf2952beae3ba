// Member certificates: what an authority signs decodes to the same fields and bytes, verifies for
// its community and time, and each way of not being good here and now has its own verdict.
import t from 'tap'
import {
  CERTIFICATE_FAILURES,
  CLOCK_SKEW_SECONDS,
  authorityOf,
  certificateFingerprint,
  checkCertificate,
  deriveCommunityKeys,
  generateAuthority,
  generateIdentity,
  issueCertificate,
  macOfKey,
  selfIssue,
  verifyCertificate,
  type CertificateFailure,
  type RevocationCheck,
} from '../../src/crypto/index.js'
import {
  MAX_CERTIFICATE_BYTES,
  MAX_CERTIFICATE_NAME_BYTES,
  decodeCertificate,
  encodeCertificate,
  encodeCertificateBody,
  isUnicastMac,
  type Certificate,
  type CertificateFields,
} from '../../src/wire/index.js'

const NOW = 1_800_000_000
const authority = generateAuthority()
const member = generateIdentity()

function fields(overrides: Partial<CertificateFields> = {}): Omit<CertificateFields, 'authorityKey'> {
  return {
    role: 'technician',
    serial: 7,
    notBefore: NOW,
    notAfter: NOW + 8 * 3600,
    memberKey: member.publicKey,
    mac: Buffer.from('02aabbccddee', 'hex'),
    ipv4: { address: '10.9.0.5', prefix: 24 },
    ipv6: { address: 'fd00:9::5', prefix: 64 },
    name: 'Anna (support)',
    ...overrides,
  }
}

function decoded(bytes: Buffer): Certificate {
  const result = decodeCertificate(bytes)
  if (!result.ok) throw new Error(`refused: ${result.reason}`)
  return result.value
}

t.test('an issued certificate decodes to its fields and re-encodes to the same bytes', (t) => {
  const bytes = issueCertificate(authority, fields())
  const cert = decoded(bytes)
  t.same(
    { role: cert.role, serial: cert.serial, notBefore: cert.notBefore, notAfter: cert.notAfter, ipv4: cert.ipv4, ipv6: cert.ipv6, name: cert.name },
    { role: 'technician', serial: 7, notBefore: NOW, notAfter: NOW + 8 * 3600, ipv4: { address: '10.9.0.5', prefix: 24 }, ipv6: { address: 'fd00:9::5', prefix: 64 }, name: 'Anna (support)' },
  )
  t.ok(cert.memberKey.equals(member.publicKey), 'member key')
  t.ok(cert.authorityKey.equals(authority.publicKey), 'authority key')
  t.equal(cert.mac.toString('hex'), '02aabbccddee')
  t.ok(encodeCertificate(encodeCertificateBody(cert), cert.signature).equals(bytes), 'canonical')
  t.equal(bytes.length, 199, 'a typical certificate (14-byte name, IPv6) is 199 bytes')
  const v4only = issueCertificate(authority, fields({ ipv6: null, name: 'device' }))
  t.equal(decoded(v4only).ipv6, null, 'IPv6 is optional')
  t.end()
})

t.test('the largest certificate fits in 300 bytes', (t) => {
  const name = 'é'.repeat(MAX_CERTIFICATE_NAME_BYTES / 2)
  const bytes = issueCertificate(authority, fields({ name, serial: Number.MAX_SAFE_INTEGER, ipv6: { address: 'fd12:3456:789a:bcde:f012:3456:789a:bcde', prefix: 128 } }))
  t.equal(bytes.length, MAX_CERTIFICATE_BYTES, `every field at its largest: ${bytes.length} bytes`)
  t.ok(MAX_CERTIFICATE_BYTES <= 300, `MAX_CERTIFICATE_BYTES (${MAX_CERTIFICATE_BYTES}) ≤ 300`)
  t.equal(decoded(bytes).name, name)
  t.throws(() => issueCertificate(authority, fields({ name: name + 'x' })), RangeError, 'one byte more is refused at issue')
  t.end()
})

t.test('verification: good, then each reason it is not', (t) => {
  const communityId = authority.communityId
  const cert = decoded(issueCertificate(authority, fields()))
  const good = verifyCertificate(cert, { communityId, nowSeconds: NOW + 60 })
  t.ok(good.ok, 'good for its community inside its window')
  if (good.ok) t.ok(good.fingerprint.equals(certificateFingerprint(cert)), 'the verdict names the fingerprint')

  const seen = new Set<CertificateFailure>()
  const expect = (verdict: ReturnType<typeof verifyCertificate>, reason: CertificateFailure, what: string): void => {
    t.same(verdict, { ok: false, reason }, what)
    seen.add(reason)
  }
  expect(verifyCertificate(cert, { communityId: generateAuthority().communityId, nowSeconds: NOW }), 'wrong-community', "another community's verifier refuses it")
  t.ok(verifyCertificate(cert, { communityId, nowSeconds: NOW - CLOCK_SKEW_SECONDS }).ok, `a verifier ${CLOCK_SKEW_SECONDS} s behind the authority still accepts a fresh certificate`)
  expect(verifyCertificate(cert, { communityId, nowSeconds: NOW - CLOCK_SKEW_SECONDS - 1 }), 'not-yet-valid', 'one second more behind: not yet valid')
  t.ok(verifyCertificate(cert, { communityId, nowSeconds: cert.notAfter - 1 }).ok, 'good in its last second')
  expect(verifyCertificate(cert, { communityId, nowSeconds: cert.notAfter }), 'expired', 'expired at notAfter: no tolerance for expiry')
  const revoked: RevocationCheck = { isRevoked: (fp) => fp.equals(certificateFingerprint(cert)) }
  expect(verifyCertificate(cert, { communityId, nowSeconds: NOW, revocations: revoked }), 'revoked', 'a revoked certificate')
  t.ok(verifyCertificate(decoded(issueCertificate(authority, fields({ serial: 8 }))), { communityId, nowSeconds: NOW, revocations: revoked }).ok, 'another certificate of the same member is not revoked by it')

  const forgedSignature = Buffer.from(cert.bytes)
  forgedSignature[forgedSignature.length - 1]! ^= 1
  expect(verifyCertificate(decoded(forgedSignature), { communityId, nowSeconds: NOW }), 'bad-signature', 'a changed signature')
  const otherAddress = Buffer.from(cert.bytes)
  // the last byte of the IPv4 address: 10.9.0.5 → 10.9.0.4, a member granting itself another address
  otherAddress[4 + 24 + 64 + 6 + 3]! ^= 1
  t.equal(decoded(otherAddress).ipv4?.address, '10.9.0.4', 'the edit changed the address')
  expect(verifyCertificate(decoded(otherAddress), { communityId, nowSeconds: NOW }), 'bad-signature', 'a changed address')
  const selfSigned = decoded(issueCertificate({ ...authority, secretKey: member.secretKey }, fields()))
  expect(verifyCertificate(selfSigned, { communityId, nowSeconds: NOW }), 'bad-signature', "a member signing with its own key under the authority's name")
  t.same([...seen].sort(), [...CERTIFICATE_FAILURES].sort(), 'every failure has been met')
  t.end()
})

t.test('shared secret: every member derives the same authority and accepts the others’ self-issued certificates', async (t) => {
  const a = await deriveCommunityKeys('lab', 'secret')
  const b = await deriveCommunityKeys('lab', 'secret')
  t.ok(authorityOf(a).publicKey.equals(authorityOf(b).publicKey), 'the same authority key on two members')
  t.ok(authorityOf(a).communityId.equals(a.communityId), 'the community ID stays the one version 1 derives')
  const memberA = generateIdentity()
  const bytes = selfIssue(authorityOf(a), memberA, { ipv4: { address: '10.9.0.1', prefix: 24 }, nowSeconds: NOW, name: 'lab-a' })
  const cert = decoded(bytes)
  t.equal(cert.role, 'member')
  t.ok(cert.mac.equals(macOfKey(memberA.publicKey)), 'the MAC comes from the key when none is given')
  t.ok(verifyCertificate(cert, { communityId: b.communityId, nowSeconds: NOW + 1 }).ok, "B accepts A's certificate")
  const other = await deriveCommunityKeys('lab', 'other secret')
  t.same(verifyCertificate(cert, { communityId: other.communityId, nowSeconds: NOW + 1 }), { ok: false, reason: 'wrong-community' }, 'another secret is another community')
})

t.test('a MAC from a key is unicast, locally administered and stable', (t) => {
  for (let i = 0; i < 64; i++) {
    const key = generateIdentity().publicKey
    const mac = macOfKey(key)
    t.ok(isUnicastMac(mac) && (mac[0]! & 2) === 2, `${mac.toString('hex')} is local unicast`)
    t.ok(macOfKey(key).equals(mac), 'stable')
  }
  t.end()
})

t.test('issuing refuses what no decoder would accept', (t) => {
  const bad: [string, Partial<CertificateFields>][] = [
    ['serial 0', { serial: 0 }],
    ['notAfter before notBefore', { notAfter: NOW - 1 }],
    ['a multicast MAC', { mac: Buffer.from('01005e000001', 'hex') }],
    ['a control character in the name', { name: 'a\nb' }],
    ['a multicast IPv6 address', { ipv6: { address: 'ff02::1', prefix: 64 } }],
    ['a member key that is not a curve point', { memberKey: Buffer.alloc(32, 0xff) }],
  ]
  for (const [what, overrides] of bad) t.throws(() => issueCertificate(authority, fields(overrides)), RangeError, what)
  t.end()
})

t.test('checkCertificate: decode and verify in one step, a copy that outlives the buffer, one reason either way', (t) => {
  const receive = Buffer.alloc(400)
  const bytes = issueCertificate(authority, fields())
  bytes.copy(receive)
  const checked = checkCertificate(receive.subarray(0, bytes.length), { communityId: authority.communityId, nowSeconds: NOW })
  receive.fill(0)
  t.ok(checked.ok && checked.certificate.bytes.equals(bytes), 'the certificate is intact after the receive buffer is reused')
  t.ok(checked.ok && checked.certificate.memberKey.equals(member.publicKey), 'the key it binds, for the pair session')
  t.same(checkCertificate(bytes.subarray(0, 100), { communityId: authority.communityId, nowSeconds: NOW }), { ok: false, reason: 'truncated' }, 'a decoding reason')
  t.same(checkCertificate(bytes, { communityId: authority.communityId, nowSeconds: NOW + 9 * 3600 }), { ok: false, reason: 'expired' }, 'a verification reason')
  t.end()
})
