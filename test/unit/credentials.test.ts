// An edge's credentials: a shared-secret edge issues its own certificate (without an address until
// the supernode assigns one, then with it, and anew before 2/3 of its lifetime); an authority's
// certificate is refused at the start when it is not this identity's, not valid now, or contradicts
// -a/-m; peers' certificates are checked for each way of being bad, cached by fingerprint, and
// dropped once revoked.
import t from 'tap'
import { verifyAnnouncementSignature } from '../../src/crypto/announcement.js'
import { CLOCK_SKEW_SECONDS, generateAuthority, issueCertificate, selfIssue } from '../../src/crypto/certificate.js'
import { generateIdentity, macOfKey } from '../../src/crypto/identity.js'
import { authorityOf, deriveCommunityKeys, edgeIdOf } from '../../src/crypto/keys.js'
import { signRevocation } from '../../src/crypto/revocation.js'
import { Credentials, CredentialsError, REISSUE_AT_FRACTION } from '../../src/edge/credentials.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { decodeAnnouncement } from '../../src/wire/announcement.js'
import { decodeCertificate, type Certificate } from '../../src/wire/certificate.js'

const START = Date.UTC(2026, 5, 1)
const NOW_S = START / 1000
const MAC = Buffer.from('02aabbccddee', 'hex')
const ADDRESS = { address: '10.9.0.5', prefix: 24 }

function decoded(bytes: Buffer): Certificate {
  const result = decodeCertificate(bytes)
  if (!result.ok) throw new Error(result.reason)
  return result.value
}

async function sharedSecret(clock: ManualClock, overrides: { ipv4?: typeof ADDRESS | null; lifetimeSeconds?: number } = {}) {
  const keys = await deriveCommunityKeys('lab', 'secret')
  const credentials = await Credentials.create({ clock, keys, mac: MAC, ipv4: overrides.ipv4 ?? null, name: 'bench 3', lifetimeSeconds: overrides.lifetimeSeconds })
  return { keys, credentials }
}

t.test('a shared-secret edge without -a self-issues a certificate without IPv4, then re-issues with the assigned address', async (t) => {
  const clock = new ManualClock(START)
  const { keys, credentials } = await sharedSecret(clock)
  t.teardown(() => credentials.destroy())
  const first = credentials.certificate
  t.equal(first.ipv4, null, 'no address until the supernode assigns one')
  t.ok(first.mac.equals(MAC), "the TAP's MAC")
  t.equal(first.name, 'bench 3')
  t.equal(first.role, 'member')
  t.ok(first.authorityKey.equals(keys.signPublicKey), 'signed by the authority every holder derives')
  t.ok(credentials.communityId.equals(keys.communityId))
  t.equal(credentials.edgeId, edgeIdOf(credentials.identity.publicKey), 'edge ID = hash of the member key')
  t.equal(credentials.selfIssued, true)

  const changed: Certificate[] = []
  credentials.onCertificateChanged((c) => changed.push(c))
  t.equal(credentials.reissue({ address: '10.9.0.77', prefix: 24 }), true)
  t.equal(changed.length, 1, 'told once')
  t.same(credentials.certificate.ipv4, { address: '10.9.0.77', prefix: 24 })
  t.ok(credentials.certificate.mac.equals(MAC), 'same MAC')
  t.notOk(credentials.certificateBytes.equals(first.bytes), 'new bytes')
  t.equal(credentials.reissue({ address: '10.9.0.77', prefix: 24 }), false, 'the same address again changes nothing')
  t.equal(changed.length, 1)
  t.equal(credentials.status().ip, '10.9.0.77/24')
  t.equal(credentials.status().selfIssued, true)
})

t.test('a shared-secret edge told its role (the assistance device: device) self-issues and re-issues with it', async (t) => {
  const clock = new ManualClock(START)
  const keys = await deriveCommunityKeys('lab', 'secret')
  const credentials = await Credentials.create({ clock, keys, mac: MAC, ipv4: null, name: 'device', role: 'device', lifetimeSeconds: 90 })
  t.teardown(() => credentials.destroy())
  t.equal(credentials.certificate.role, 'device', 'the first certificate')
  t.equal(credentials.status().role, 'device', 'as /status shows it')
  credentials.reissue(ADDRESS)
  t.equal(credentials.certificate.role, 'device', 're-issued with the assigned address')
  await clock.advance(61_000, 500)
  t.equal(credentials.certificate.notBefore, NOW_S + 60, 'renewed')
  t.equal(credentials.certificate.role, 'device', 'renewed with the same role')
  const plain = selfIssue(authorityOf(keys), generateIdentity(), { ipv4: ADDRESS, nowSeconds: NOW_S })
  t.equal(decoded(plain).role, 'member', 'selfIssue without a role: member, as before')
})

t.test('a self-issued certificate is re-issued at 2/3 of its lifetime, never left to expire', async (t) => {
  const clock = new ManualClock(START)
  const { credentials } = await sharedSecret(clock, { ipv4: ADDRESS, lifetimeSeconds: 90 })
  t.teardown(() => credentials.destroy())
  const changed: Certificate[] = []
  credentials.onCertificateChanged((c) => changed.push(c))
  await clock.advance(90_000 * REISSUE_AT_FRACTION - 2_000, 500)
  t.equal(changed.length, 0, 'not before 2/3 (60 s)')
  await clock.advance(3_000, 500)
  t.equal(changed.length, 1, 'renewed at 60 s')
  t.equal(credentials.certificate.notBefore, NOW_S + 60)
  t.same(credentials.certificate.ipv4, ADDRESS, 'same address')
  await clock.advance(60_000, 500)
  t.equal(changed.length, 2, 'and again 60 s after that')
  credentials.destroy()
  await clock.advance(120_000, 1_000)
  t.equal(changed.length, 2, 'destroyed: no more renewals')
})

t.test("an authority's certificate: accepted for its own identity and time, with the certificate's MAC and address", async (t) => {
  const clock = new ManualClock(START)
  const authority = generateAuthority()
  const identity = generateIdentity()
  const issue = (fields: Partial<{ notBefore: number; notAfter: number; memberKey: Buffer; mac: Buffer }> = {}): Buffer =>
    issueCertificate(authority, { role: 'technician', serial: 1, notBefore: NOW_S, notAfter: NOW_S + 3600, memberKey: identity.publicKey, mac: MAC, ipv4: ADDRESS, ipv6: { address: 'fd00:9::5', prefix: 64 }, name: 'anna', ...fields })

  const ok = await Credentials.create({ clock, identity: generateCopy(identity), certificate: issue(), ipv4: ADDRESS, mac: MAC })
  t.equal(ok.selfIssued, false)
  t.equal(ok.reissue({ address: '10.9.0.9', prefix: 24 }), false, 'an authority certificate is never re-issued here')
  t.same(ok.status(), {
    name: 'anna',
    fingerprint: ok.status().fingerprint,
    role: 'technician',
    mac: '02:aa:bb:cc:dd:ee',
    ip: '10.9.0.5/24',
    ipv6: 'fd00:9::5/64',
    notBefore: new Date(START).toISOString(),
    notAfter: new Date(START + 3600_000).toISOString(),
    selfIssued: false,
  })
  t.match(ok.status().fingerprint, /^[a-z2-7]{32}$/)
  ok.destroy()

  const refusals: [string, Parameters<typeof Credentials.create>[0], 'usage' | 'certificate', RegExp][] = [
    ['another identity', { clock, identity: generateIdentity(), certificate: issue() }, 'certificate', /issued for the key \w+, not for this identity/],
    ['expired', { clock, identity: generateCopy(identity), certificate: issue({ notBefore: NOW_S - 7200, notAfter: NOW_S - 1 }) }, 'certificate', /expired at /],
    ['not yet valid', { clock, identity: generateCopy(identity), certificate: issue({ notBefore: NOW_S + CLOCK_SKEW_SECONDS + 5 }) }, 'certificate', /not valid before .*check this host's clock/],
    ['altered', { clock, identity: generateCopy(identity), certificate: flipLast(issue()) }, 'certificate', /does not verify \(bad-signature\)/],
    ['malformed', { clock, identity: generateCopy(identity), certificate: issue().subarray(0, 40) }, 'certificate', /not valid \(truncated\)/],
    ['-m contradicts', { clock, identity: generateCopy(identity), certificate: issue(), mac: Buffer.from('02aabbccdd00', 'hex') }, 'usage', /^--mac 02:aa:bb:cc:dd:00 contradicts the certificate's MAC 02:aa:bb:cc:dd:ee/],
    ['-a contradicts', { clock, identity: generateCopy(identity), certificate: issue(), ipv4: { address: '10.9.0.6', prefix: 24 } }, 'usage', /^-a 10.9.0.6\/24 contradicts the certificate's address 10.9.0.5\/24/],
  ]
  for (const [what, config, kind, message] of refusals) {
    const err = await Credentials.create(config).then(
      () => null,
      (e: unknown) => e,
    )
    t.ok(err instanceof CredentialsError, `${what}: refused`)
    t.equal((err as CredentialsError).kind, kind, `${what}: ${kind}`)
    t.match((err as Error).message, message, `${what}: says why`)
    t.notOk((err as Error).message.includes('\n'), `${what}: one line`)
  }
  t.ok(new CredentialsError('x', 'usage') instanceof Error)
})

/** A second Identity of the same key pair (Credentials destroys the one it is given). */
function generateCopy(identity: { publicKey: Buffer; secretKey: Buffer }) {
  return { publicKey: Buffer.from(identity.publicKey), secretKey: Buffer.from(identity.secretKey) }
}

function flipLast(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes)
  copy[copy.length - 1]! ^= 1
  return copy
}

t.test("a peer's certificate: every way of being bad has its reason; a good one is cached by fingerprint", async (t) => {
  const clock = new ManualClock(START)
  const { keys, credentials } = await sharedSecret(clock, { ipv4: ADDRESS })
  t.teardown(() => credentials.destroy())
  const authority = authorityOf(keys)
  const peer = generateIdentity()
  const peerCert = (nowSeconds = NOW_S, lifetimeSeconds = 3600): Buffer => selfIssue(authority, peer, { ipv4: { address: '10.9.0.6', prefix: 24 }, nowSeconds, lifetimeSeconds })

  const good = peerCert()
  const checked = credentials.checkPeer(good)
  t.ok(checked.ok, 'a member of the community')
  if (checked.ok) t.ok(checked.certificate.memberKey.equals(peer.publicKey))
  t.equal(credentials.peerCertificates.misses, 1)
  const again = credentials.checkPeer(Buffer.from(good))
  t.ok(again.ok, 'the same certificate again')
  t.equal(credentials.peerCertificates.hits, 1, 'from the cache: no signature check')

  const reasonOf = (bytes: Buffer): string => {
    const c = credentials.checkPeer(bytes)
    return c.ok ? 'ok' : c.reason
  }
  const other = generateAuthority()
  t.equal(reasonOf(selfIssue(other, peer, { ipv4: ADDRESS, nowSeconds: NOW_S })), 'wrong-community')
  t.equal(reasonOf(peerCert(NOW_S - 7200, 3600)), 'expired')
  t.equal(reasonOf(peerCert(NOW_S + CLOCK_SKEW_SECONDS + 1)), 'not-yet-valid')
  t.equal(reasonOf(peerCert(NOW_S + CLOCK_SKEW_SECONDS - 1)), 'ok', 'a clock behind by less than the tolerance')
  t.equal(reasonOf(flipLast(good)), 'bad-signature', 'a forged signature on a cached body is no cache hit')
  t.equal(reasonOf(good.subarray(0, 50)), 'truncated')

  // cached, yet its validity is checked every time
  await clock.advance(3600_000, 60_000)
  t.equal(reasonOf(good), 'expired', 'a cached certificate expires like any other')
})

t.test('revocations: from this authority they are kept and told, others are refused by reason', async (t) => {
  const clock = new ManualClock(START)
  const { keys, credentials } = await sharedSecret(clock, { ipv4: ADDRESS })
  t.teardown(() => credentials.destroy())
  const authority = authorityOf(keys)
  const peer = generateIdentity()
  const certBytes = selfIssue(authority, peer, { ipv4: { address: '10.9.0.6', prefix: 24 }, nowSeconds: NOW_S })
  t.ok(credentials.checkPeer(certBytes).ok, 'good (and cached) before')
  const told: Buffer[] = []
  credentials.onRevocation((fp) => told.push(fp))
  const revocation = signRevocation(authority, decoded(certBytes), NOW_S)

  t.equal(credentials.addRevocation(revocation), 'added')
  t.equal(told.length, 1, 'told once')
  const checked = credentials.checkPeer(certBytes)
  t.equal(checked.ok ? 'ok' : checked.reason, 'revoked', 'refused at once, cache or not')
  t.ok(credentials.isRevoked(told[0]!))
  t.equal(credentials.addRevocation(revocation), 'known', 'again: nothing new')
  t.equal(told.length, 1)

  const other = generateAuthority()
  t.equal(credentials.addRevocation(signRevocation(other, decoded(certBytes), NOW_S)), 'wrong-community')
  t.equal(credentials.addRevocation(flipLast(revocation)), 'bad-signature')
  t.equal(credentials.addRevocation(revocation.subarray(0, 100)), 'truncated')
  const shortLived = selfIssue(authority, peer, { ipv4: ADDRESS, nowSeconds: NOW_S - 100, lifetimeSeconds: 50 })
  t.equal(credentials.addRevocation(signRevocation(authority, decoded(shortLived), NOW_S)), 'outlived', 'a revocation of an expired certificate is not kept')
  t.equal(told.length, 1)
})

t.test('the announcement is signed by the identity over the current certificate', async (t) => {
  const clock = new ManualClock(START)
  const { credentials } = await sharedSecret(clock, { ipv4: ADDRESS })
  t.teardown(() => credentials.destroy())
  const candidates = [{ family: 4 as const, address: '192.168.1.5', port: 40000 }]
  const decodedAnnouncement = decodeAnnouncement(credentials.announcement(START + 5, candidates))
  t.ok(decodedAnnouncement.ok)
  if (!decodedAnnouncement.ok) return
  const a = decodedAnnouncement.value
  t.ok(a.certificate.bytes.equals(credentials.certificateBytes))
  t.equal(a.timestamp, START + 5)
  t.same(a.candidates, candidates)
  t.ok(verifyAnnouncementSignature(a), 'verifies with the certificate member key')
})

t.test('destroy erases the identity and the keys derived here, not keys handed in', async (t) => {
  const clock = new ManualClock(START)
  const handed = await deriveCommunityKeys('lab', 'secret')
  const withHanded = await Credentials.create({ clock, keys: handed, ipv4: ADDRESS })
  const derivedHere = await Credentials.create({ clock, community: 'lab', key: 'secret', ipv4: ADDRESS })
  t.ok(withHanded.mac.equals(macOfKey(withHanded.identity.publicKey)), 'no MAC given: the one of the key')
  t.ok(derivedHere.communityId.equals(handed.communityId), 'same secret, same community')
  const derivedKeys = (derivedHere as unknown as { ownKeys: { signSecretKey: Buffer; dataKey: Buffer } }).ownKeys
  withHanded.destroy()
  derivedHere.destroy()
  t.ok(withHanded.identity.secretKey.every((b) => b === 0), 'identity erased')
  t.ok(derivedHere.identity.secretKey.every((b) => b === 0), 'identity erased')
  t.ok(derivedKeys.signSecretKey.every((b) => b === 0), 'the authority derived here erased')
  t.notOk(handed.signSecretKey.every((b) => b === 0), "handed-in keys are their owner's")
})
