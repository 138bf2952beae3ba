// An edge's registration in protocol v2, with a real link against a scripted supernode: an address
// the supernode assigns is re-issued into the certificate and registered again at once; a refused
// certificate is renewed when self-issued and stops the edge when an authority's; revocations from
// --revocations reach every supernode now and after each registration; a forwarded one revokes.
import t, { type Test } from 'tap'
import { certificateFingerprint, generateAuthority, issueCertificate, selfIssue } from '../../src/crypto/certificate.js'
import { generateIdentity } from '../../src/crypto/identity.js'
import { authorityOf, deriveCommunityKeys, type Authority } from '../../src/crypto/keys.js'
import { signRevocation } from '../../src/crypto/revocation.js'
import { verify } from '../../src/crypto/sign.js'
import { Credentials } from '../../src/edge/credentials.js'
import { CERTIFICATE_REFUSED, Registration } from '../../src/edge/registration.js'
import { SLOW_RETRY_MS, SupernodeLink, type LinkHost } from '../../src/edge/supernode-link.js'
import type { Logger } from '../../src/log/logger.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { ErrorCode, NO_SUBJECT, PacketType, decodeCertificate, type Certificate, decodePacket, deregisterSignedBytes, encodeRevocationPacket, type OverlayAddress, type Packet } from '../../src/wire/index.js'

const START = Date.UTC(2026, 5, 1, 12)
const NOW_S = START / 1000
const REFLEXIVE = { family: 4 as const, address: '127.0.0.1', port: 5000 }
const MAC = Buffer.from('02aabbccddee', 'hex')

interface Harness {
  clock: ManualClock
  link: SupernodeLink
  registration: Registration
  credentials: Credentials
  sent: Packet[]
  lines: string[]
  assigned: OverlayAddress[]
  stops: string[]
}

function harness(credentials: Credentials, clock: ManualClock): Harness {
  const sent: Packet[] = []
  const lines: string[] = []
  const assigned: OverlayAddress[] = []
  const stops: string[] = []
  const log: Logger = { debug: () => {}, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) }
  let link: SupernodeLink | null = null
  const registration = new Registration({
    credentials,
    now: () => clock.now(),
    candidates: () => [{ family: 4, address: '192.168.1.5', port: 40000 }],
    links: () => (link === null ? [] : [link]),
    log,
    addressAssigned: (overlay) => assigned.push(overlay),
    stop: (why) => stops.push(why),
  })
  const host: LinkHost = {
    now: () => clock.now(),
    send: (buf) => {
      const p = decodePacket(buf)
      if (!p.ok) throw new Error(`the link sent a bad packet: ${p.reason}`)
      sent.push(p.value)
    },
    announcement: () => registration.announcement(),
    registered: (l, ack) => registration.registered(l, ack),
    lost: () => undefined,
    refused: () => undefined,
    peerGone: () => undefined,
    unprovenError: () => undefined,
    certificateRefused: (l, code) => registration.certificateRefused(l, code),
    oldProtocol: (l) => registration.oldProtocol(l),
  }
  link = new SupernodeLink({ host: '127.0.0.1', port: 7654 }, host)
  return { clock, link, registration, credentials, sent, lines, assigned, stops }
}

function lastOf<T extends Packet['type']>(h: Harness, type: T): Extract<Packet, { type: T }> {
  const p = h.sent.findLast((x) => x.type === type)
  if (p === undefined) throw new Error(`nothing of type ${type} sent`)
  return p as Extract<Packet, { type: T }>
}

/** HELLO → COOKIE → REGISTER, then the supernode's REGISTER_ACK (assigning `overlay` when the certificate has none). */
function register(h: Harness, overlay: OverlayAddress | null = null): Extract<Packet, { type: typeof PacketType.Register }> {
  h.link.tick(h.clock.now())
  const hello = lastOf(h, PacketType.Hello)
  h.link.onCookie({ type: PacketType.Cookie, clientNonce: hello.clientNonce, cookie: Buffer.alloc(20), reflexive: REFLEXIVE, serverTimeMs: h.clock.now() })
  const sent = lastOf(h, PacketType.Register)
  const own = sent.announcement.certificate.ipv4
  h.link.onRegisterAck({ type: PacketType.RegisterAck, edgeId: h.credentials.edgeId, timestamp: sent.announcement.timestamp, reflexive: REFLEXIVE, overlay: own ?? overlay, keepaliveSeconds: 20, serverTimeMs: h.clock.now() })
  return sent
}

async function sharedSecret(clock: ManualClock, ipv4: OverlayAddress | null = null) {
  const keys = await deriveCommunityKeys('lab', 'secret')
  const credentials = await Credentials.create({ clock, keys, mac: MAC, ipv4 })
  return { keys, credentials }
}

t.test('without -a: registers without IPv4, re-issues with the assigned address and registers again at once', async (t) => {
  const clock = new ManualClock(START)
  const { credentials } = await sharedSecret(clock)
  t.teardown(() => credentials.destroy())
  const h = harness(credentials, clock)
  const first = register(h, { address: '10.9.0.7', prefix: 24 })
  t.equal(first.announcement.certificate.ipv4, null, 'the first REGISTER has no address')
  t.same(first.announcement.candidates, [{ family: 4, address: '192.168.1.5', port: 40000 }], 'candidates ride in the announcement')
  t.same(h.assigned, [{ address: '10.9.0.7', prefix: 24 }], 'the TAP and filter are told')
  t.same(credentials.certificate.ipv4, { address: '10.9.0.7', prefix: 24 })
  t.equal(h.link.state, 'hello', 'registering again')
  const second = register(h)
  t.same(second.announcement.certificate.ipv4, { address: '10.9.0.7', prefix: 24 }, 'the next REGISTER carries the re-issued certificate')
  t.ok(second.announcement.timestamp > first.announcement.timestamp)
  t.equal(h.link.state, 'registered')
  t.same(h.assigned.length, 1, 'once')
  t.match(h.lines, [/^info supernode 127\.0\.0\.1:7654 assigned 10\.9\.0\.7\/24: certificate re-issued with it, registering again$/])
})

/** A registered shared-secret edge, and the certificate of another member of its community (at 10.9.0.9). */
async function registeredWithPeer(t: Test): Promise<{ h: Harness; authority: Authority; peerCert: Buffer; peer: Certificate }> {
  const clock = new ManualClock(START)
  const { keys, credentials } = await sharedSecret(clock, { address: '10.9.0.1', prefix: 24 })
  t.teardown(() => credentials.destroy())
  const h = harness(credentials, clock)
  register(h)
  const authority = authorityOf(keys)
  const peerCert = selfIssue(authority, generateIdentity(), { ipv4: { address: '10.9.0.9', prefix: 24 }, nowSeconds: NOW_S })
  const decoded = decodeCertificate(peerCert)
  if (!decoded.ok) throw new Error(decoded.reason)
  return { h, authority, peerCert, peer: decoded.value }
}

t.test('--revocations: sent to registered supernodes at once and again after each registration; refused ones are said', async (t) => {
  const { h, authority, peer } = await registeredWithPeer(t)
  const credentials = h.credentials
  const victim = { value: peer }
  const good = signRevocation(authority, victim.value, NOW_S)
  const foreign = signRevocation(generateAuthority(), victim.value, NOW_S)
  const revocationsSent = () => h.sent.filter((p) => p.type === PacketType.Revocation).length

  h.registration.setRevocations([good, foreign])
  t.equal(revocationsSent(), 1, 'the good one went to the supernode')
  t.ok(credentials.isRevoked(certificateFingerprint(victim.value)), 'and this edge holds it too')
  t.match(h.lines.filter((l) => l.startsWith('warn')), [/^warn --revocations: revocation 2 is refused \(wrong-community\)/])
  h.registration.setRevocations([good])
  t.equal(revocationsSent(), 1, 'the file read again with nothing new: nothing sent')
  h.link.reregister()
  register(h)
  t.equal(revocationsSent(), 2, 'sent again after the registration (a restarted supernode learns it)')
  t.equal(h.registration.revocationCounts.announced, 1)
})

t.test('a revocation the supernode forwards revokes at this edge; junk is counted, not taken', async (t) => {
  const { h, authority, peerCert, peer } = await registeredWithPeer(t)
  const credentials = h.credentials
  t.ok(credentials.checkPeer(peerCert).ok)
  const decoded = { value: peer }
  const revoked: Buffer[] = []
  credentials.onRevocation((fp) => revoked.push(fp))
  // as the data path hands it on: the revocation's bytes out of a decoded REVOCATION packet
  const asPacket = (bytes: Buffer) => {
    const p = decodePacket(encodeRevocationPacket(bytes))
    if (!p.ok || p.value.type !== PacketType.Revocation) throw new Error('no REVOCATION')
    return Buffer.from(p.value.revocation.bytes)
  }
  h.registration.revocation(asPacket(signRevocation(generateAuthority(), decoded.value, NOW_S)))
  t.equal(revoked.length, 0, "another authority's: not taken")
  t.equal(h.registration.revocationCounts.refused, 1)
  h.registration.revocation(asPacket(signRevocation(authority, decoded.value, NOW_S)))
  t.equal(revoked.length, 1, 'taken: the data path drops that peer')
  const checked = credentials.checkPeer(peerCert)
  t.equal(checked.ok ? 'ok' : checked.reason, 'revoked')
  t.equal(h.registration.revocationCounts.received, 1)
})

t.test('a refused self-issued certificate is renewed (not more often than the link retries) and registered again', async (t) => {
  const clock = new ManualClock(START)
  const { credentials } = await sharedSecret(clock, { address: '10.9.0.1', prefix: 24 })
  t.teardown(() => credentials.destroy())
  const h = harness(credentials, clock)
  register(h)
  const before = Buffer.from(credentials.fingerprint)
  const registration = lastOf(h, PacketType.Register).clientNonce
  h.link.onError({ type: PacketType.Error, code: ErrorCode.CertificateRevoked, proof: registration, subject: NO_SUBJECT })
  t.notOk(credentials.fingerprint.equals(before), 'a new certificate')
  t.same(h.stops, [], 'the edge goes on')
  t.match(h.lines, [/^warn supernode 127\.0\.0\.1:7654 says the authority revoked the certificate; issuing a new one$/])
  const next = register(h)
  t.ok(next.announcement.certificate.bytes.equals(credentials.certificateBytes), 'registered with it')
  const renewed = Buffer.from(credentials.fingerprint)
  h.link.onError({ type: PacketType.Error, code: ErrorCode.CertificateExpired, proof: next.clientNonce, subject: NO_SUBJECT })
  t.ok(credentials.fingerprint.equals(renewed), `not renewed again within ${SLOW_RETRY_MS} ms`)
})

t.test("a refused authority certificate stops the edge with one line saying what to do", async (t) => {
  const clock = new ManualClock(START)
  const authority = generateAuthority()
  const identity = generateIdentity()
  const certificate = issueCertificate(authority, { role: 'technician', serial: 3, notBefore: NOW_S - 10, notAfter: NOW_S + 3600, memberKey: identity.publicKey, mac: MAC, ipv4: { address: '10.9.0.5', prefix: 24 }, ipv6: null, name: 'anna' })
  const credentials = await Credentials.create({ clock, identity, certificate })
  t.teardown(() => credentials.destroy())
  const h = harness(credentials, clock)
  const sent = register(h)
  h.link.onError({ type: PacketType.Error, code: ErrorCode.CertificateExpired, proof: sent.clientNonce, subject: NO_SUBJECT })
  t.same(h.stops, [CERTIFICATE_REFUSED])
  const errors = h.lines.filter((l) => l.startsWith('error'))
  t.equal(errors.length, 1)
  t.match(errors[0], /^error supernode 127\.0\.0\.1:7654 says the certificate expired \(notAfter 2026-06-01T13:00:00\.000Z by its clock; its clock is 0 ms ahead of ours\); the edge stops: ask the authority for a new certificate \(overlan ca issue\)$/)
  t.equal(credentials.renew(), false, 'nothing here can issue one')
  h.registration.certificateRefused(h.link, ErrorCode.CertificateRevoked)
  t.same(h.stops, [CERTIFICATE_REFUSED], 'stopped once')
})

t.test('a supernode of protocol v1 gets the line of wire-v2 W1', async (t) => {
  const clock = new ManualClock(START)
  const { credentials } = await sharedSecret(clock)
  t.teardown(() => credentials.destroy())
  const h = harness(credentials, clock)
  h.registration.oldProtocol(h.link)
  t.same(h.lines, ['error supernode 127.0.0.1:7654 speaks protocol v1 (overlan 0.1): upgrade it to overlan 0.2 or later'])
})

t.test('DEREGISTER is signed by the identity and newer than every announcement', async (t) => {
  const clock = new ManualClock(START)
  const { credentials } = await sharedSecret(clock)
  t.teardown(() => credentials.destroy())
  const h = harness(credentials, clock)
  const sent = register(h, { address: '10.9.0.7', prefix: 24 })
  const p = decodePacket(h.registration.deregister())
  if (!p.ok || p.value.type !== PacketType.Deregister) return t.fail('no DEREGISTER')
  t.equal(p.value.edgeId, credentials.edgeId)
  t.ok(p.value.timestamp > sent.announcement.timestamp)
  t.ok(verify('deregister', deregisterSignedBytes(p.value.edgeId, p.value.timestamp), p.value.signature, credentials.identity.publicKey))
})
