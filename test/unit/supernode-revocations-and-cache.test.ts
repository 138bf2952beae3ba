// The supernode's revocation store (per community, until the revoked certificate's end, bounded in
// all without one community crowding out another) and its certificate cache (the authority
// signature checked once per certificate; the time and revocations at every use).
import t from 'tap'
import { generateAuthority, generateIdentity, issueCertificate } from '../../src/crypto/index.js'
import { CertificateCache } from '../../src/supernode/certificate-cache.js'
import { RevocationStore } from '../../src/supernode/revocation-store.js'
import { decodeCertificate, type Certificate } from '../../src/wire/index.js'

const NOW = 1_800_000_000

t.test('revocations are kept per community until their notAfter; a known one is reported as known', (t) => {
  const store = new RevocationStore(10)
  t.equal(store.add('c1', 'f1', NOW + 100, NOW), 'added')
  t.equal(store.add('c1', 'f1', NOW + 100, NOW), 'known', 'again: known (costs no fan-out)')
  t.equal(store.add('c1', 'f2', NOW, NOW), 'outlived', 'its certificate has ended: nothing to keep')
  t.ok(store.isRevoked('c1', 'f1'))
  t.notOk(store.isRevoked('c2', 'f1'), 'another community: not revoked')
  t.equal(store.prune(NOW + 99), 0)
  t.equal(store.prune(NOW + 100), 1, 'gone at its notAfter')
  t.notOk(store.isRevoked('c1', 'f1'))
  t.equal(store.size, 0)
  t.end()
})

t.test('full: an ended one makes room; else the community holding the most gives one up, or the newcomer is refused', (t) => {
  const store = new RevocationStore(6)
  for (let i = 0; i < 5; i++) t.equal(store.add('hoarder', `h${i}`, NOW + 1000 + i, NOW), 'added')
  t.equal(store.add('device', 'd0', NOW + 50, NOW), 'added')
  t.equal(store.size, 6, 'full')
  t.equal(store.add('device', 'd1', NOW + 5000, NOW), 'added', "the device's second: the hoarder (5) gives up one")
  t.notOk(store.isRevoked('hoarder', 'h0'), "the hoarder's soonest-ending one went")
  t.ok(store.isRevoked('device', 'd0') && store.isRevoked('device', 'd1'))
  t.equal(store.add('device', 'd2', NOW + 5000, NOW), 'added', 'hoarder 4, device 2: one more')
  t.equal(store.add('device', 'd3', NOW + 5000, NOW), 'full', 'hoarder 3, device 3: refused, nobody crowds anybody out')
  t.equal(store.add('hoarder', 'h9', NOW + 5000, NOW), 'full', 'the hoarder cannot take them back')
  t.equal(store.size, 6, 'never more than the bound')
  t.equal(store.add('device', 'd3', NOW + 5000, NOW + 60), 'added', "once the device's first has ended (NOW + 50), there is room")
  t.end()
})

function certificate(notBefore: number, notAfter: number): { authority: ReturnType<typeof generateAuthority>; bytes: Buffer; decoded: Certificate } {
  const authority = generateAuthority()
  const bytes = issueCertificate(authority, {
    role: 'technician',
    serial: 7,
    notBefore,
    notAfter,
    memberKey: generateIdentity().publicKey,
    mac: Buffer.from('02aabbccddee', 'hex'),
    ipv4: { address: '10.9.0.5', prefix: 24 },
    ipv6: null,
    name: 'Anna',
  })
  const decoded = decodeCertificate(bytes)
  if (!decoded.ok) throw new Error(decoded.reason)
  return { authority, bytes, decoded: decoded.value }
}

const noRevocations = { isRevoked: () => false }

t.test('the cache: a second check of the same certificate skips the authority signature, never the time or revocations', (t) => {
  const cache = new CertificateCache(2)
  const { authority, decoded } = certificate(NOW, NOW + 3600)
  const first = cache.check(decoded, NOW, noRevocations)
  t.ok(first.ok && first.communityId.equals(authority.communityId), 'good; its community is the hash of the authority key')
  t.match(first, { cached: false }, 'the first: its signature checked')
  t.match(cache.check(decoded, NOW + 1, noRevocations), { ok: true, cached: true }, 'the second: a hit')
  t.same(cache.check(decoded, NOW + 3600, noRevocations), { ok: false, reason: 'certificate-expired' }, 'cached, and expired at notAfter all the same')
  t.same(cache.check(decoded, NOW + 5, { isRevoked: () => true }), { ok: false, reason: 'certificate-revoked' }, 'cached, and revoked all the same')
  t.end()
})

t.test('the cache: a cached body with another signature is checked again and refused; the bound holds', (t) => {
  const cache = new CertificateCache(2)
  const { bytes, decoded } = certificate(NOW, NOW + 3600)
  t.ok(cache.check(decoded, NOW, noRevocations).ok)
  const forged = Buffer.from(bytes)
  forged[forged.length - 1]! ^= 1
  const forgedDecoded = decodeCertificate(forged)
  if (!forgedDecoded.ok) return t.fail(forgedDecoded.reason)
  t.same(cache.check(forgedDecoded.value, NOW, noRevocations), { ok: false, reason: 'bad-certificate-signature' })
  for (let i = 0; i < 3; i++) cache.check(certificate(NOW, NOW + 3600).decoded, NOW, noRevocations)
  t.equal(cache.size, 2, 'never more than its bound')
  t.end()
})

t.test('the cache: not yet valid outside the 60 s skew, valid within it', (t) => {
  const cache = new CertificateCache()
  const { decoded } = certificate(NOW + 100, NOW + 3600)
  t.same(cache.check(decoded, NOW + 39, noRevocations), { ok: false, reason: 'certificate-not-yet-valid' }, '61 s early: refused')
  t.ok(cache.check(decoded, NOW + 40, noRevocations).ok, '60 s early: accepted')
  t.end()
})
