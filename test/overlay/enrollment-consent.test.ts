// Consent, in one process: a real supernode on loopback, the device's edge (MemoryTap) admitting
// technicians through a scripted decider, technicians enrolling with an ovl2 token over UDP. Waiting,
// admitted (then frames flow with the certificate received), denied, gone after 10 s of silence,
// disconnected by a revocation (that technician's edge stops with "disconnected", another is unaffected).
import { once } from 'node:events'
import t from 'tap'
import { generateIdentity } from '../../src/crypto/identity.js'
import { signRevocation } from '../../src/crypto/revocation.js'
import { ENROLLMENT_GONE_MS } from '../../src/edge/enrollment.js'
import { EnrollmentClient } from '../../src/edge/enrollment-client.js'
import { REVOKED_DISCONNECTED } from '../../src/edge/registration.js'
import { bindUdp } from '../../src/net/bind.js'
import { RevocationCause, decodeCertificate } from '../../src/wire/index.js'
import { consentSession as session, reaches, until } from '../fixtures/consent-session.js'
import { isRegistered } from '../fixtures/overlay.js'

t.test('ask → waiting → admitted: the technician gets its certificate, joins with it, and frames flow', async (t) => {
  const s = await session(t)
  const alice = await s.ask('Alice (ACME support)')
  await until(s.clock, 'the device is asked', () => s.decider.requests.length > 0)
  const request = s.decider.requests[0]!
  t.equal(request.name, 'Alice (ACME support)', 'the name the technician gave')
  t.equal(request.fingerprint, alice.fingerprint, "the technician's key, proven by the handshake")
  t.match(request.address, /^127\.0\.0\.1:\d+$/, 'where it came from, as the supernode saw it')
  await until(s.clock, 'waiting polls', () => alice.waited.length >= 3)
  t.ok(s.decider.requests.length >= 3, `the decider is asked at each poll (${s.decider.requests.length})`)
  const certificate = s.certify(alice.identity.publicKey, '10.9.0.2', 0x02)
  s.decider.answers.set(alice.fingerprint, { state: 'admitted', certificate })
  const ms = await until(s.clock, 'admitted', () => alice.outcome() !== null)
  t.ok(ms <= 1_500, `admission reaches the technician ${ms} ms after the decision`)
  const outcome = alice.outcome()!
  t.ok(outcome.state === 'admitted' && outcome.certificate.equals(certificate), 'with the certificate the decider issued')
  const tech = await s.join(alice.identity, certificate, 0x02)
  await until(s.clock, 'technician registered', () => isRegistered(tech))
  t.ok(await reaches(s.clock, tech, s.device), 'the technician reaches the device')
  t.ok(await reaches(s.clock, s.device, tech), 'and the device the technician')
})

t.test('denied: the technician hears it within 5 s of the decision', async (t) => {
  const s = await session(t)
  const bob = await s.ask('bob')
  await until(s.clock, 'waiting', () => bob.waited.length >= 1)
  s.decider.answers.set(bob.fingerprint, { state: 'denied' })
  const ms = await until(s.clock, 'denied', () => bob.outcome() !== null, 5_000)
  t.same(bob.outcome(), { state: 'denied' })
  t.comment(`denied ${ms} ms after the decision`)
  t.equal(s.device.edge.status().enrollment?.exchanges, 1, 'the exchange is kept until it falls silent')
  await s.clock.advance(ENROLLMENT_GONE_MS + 500)
  t.equal(s.device.edge.status().enrollment?.exchanges, 0, 'then forgotten')
  t.same(s.decider.gones, [], 'a denied technician is not "gone"')
})

t.test('a technician who stops asking while waiting is gone after 10 s', async (t) => {
  const s = await session(t)
  const carol = await s.ask('carol')
  await until(s.clock, 'waiting', () => carol.waited.length >= 1)
  carol.client.stop()
  const stoppedAt = s.clock.now()
  await until(s.clock, 'gone', () => s.decider.gones.length > 0, ENROLLMENT_GONE_MS + 2_000)
  t.same(s.decider.gones, [carol.fingerprint])
  t.ok(s.clock.now() - stoppedAt >= ENROLLMENT_GONE_MS - 1_000, `not before its 10 s (${s.clock.now() - stoppedAt} ms)`)
})

t.test('a wrong enrollment secret gets nothing from the device: refused before its handshake, no request reaches the decider', async (t) => {
  const s = await session(t)
  // a token for the same device with another secret (an old session's, say)
  const identity = generateIdentity()
  const transport = await bindUdp({ address: '127.0.0.1', port: 0 })
  t.teardown(() => transport.close())
  const drops = (): Record<string, number> => s.device.edge.status().enrollment!.drops
  const wrong = new EnrollmentClient({ token: { ...s.token, enrollmentSecret: Buffer.alloc(32, 1) }, identity, name: 'mallory' }, { transport, clock: s.clock })
  t.teardown(() => wrong.stop())
  void wrong.run()
  await until(s.clock, 'refused at the device', () => drops()['handshake-decrypt-failed']! >= 2)
  t.equal(s.decider.requests.length, 0, 'the decider never heard of it')
  t.equal(s.device.edge.status().enrollment!.exchanges, 0, 'and the device keeps nothing for it')
})

t.test('disconnect: a revocation stops that technician with "disconnected"; a second technician is unaffected', async (t) => {
  const s = await session(t)
  const [anna, ben] = [await s.ask('anna'), await s.ask('ben')]
  await until(s.clock, 'both waiting', () => anna.waited.length >= 1 && ben.waited.length >= 1)
  const annaCert = s.certify(anna.identity.publicKey, '10.9.0.2', 0x02)
  const benCert = s.certify(ben.identity.publicKey, '10.9.0.3', 0x03)
  s.decider.answers.set(anna.fingerprint, { state: 'admitted', certificate: annaCert })
  s.decider.answers.set(ben.fingerprint, { state: 'admitted', certificate: benCert })
  await until(s.clock, 'both admitted', () => anna.outcome() !== null && ben.outcome() !== null)
  const annaEdge = await s.join(anna.identity, annaCert, 0x02)
  const benEdge = await s.join(ben.identity, benCert, 0x03)
  await until(s.clock, 'both registered', () => isRegistered(annaEdge) && isRegistered(benEdge))
  t.ok(await reaches(s.clock, annaEdge, s.device), 'anna reaches the device')
  t.ok(await reaches(s.clock, benEdge, s.device), 'ben reaches the device')

  const stopped = once(annaEdge.edge, 'stopped')
  const decoded = decodeCertificate(annaCert)
  if (!decoded.ok) throw new Error(decoded.reason)
  s.device.edge.setRevocations([signRevocation(s.authority, decoded.value, Math.floor(s.clock.now() / 1000), RevocationCause.Disconnected)])
  const ms = await until(s.clock, 'anna stopped', () => annaEdge.tap.closed, 2_000)
  t.same(await stopped, [REVOKED_DISCONNECTED], 'she stops saying why: disconnected')
  t.ok(ms <= 1_000, `within 1 s (${ms} ms)`)
  t.ok(await reaches(s.clock, benEdge, s.device), 'ben still reaches the device')
  t.notOk(await reaches(s.clock, s.device, annaEdge, 1_000), 'nothing reaches anna any more')
})
