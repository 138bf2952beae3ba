// The session's technician registry as the device edge's enrollment responder sees it (contract
// C3): a request waits until a decision; the certificate is answered only once the service has
// saved it; a denied technician is told so while it keeps polling, and asks anew later; a request
// that stops polling is gone after WAITING_GONE_MS; a flood of distinct keys fills MAX_WAITING and
// no more; addresses come from the device's subnet, never the device's, never twice.
import t from 'tap'
import { SessionAuthority } from '../../src/assist/authority.js'
import { DENIED_ANSWERED_MS, MAX_WAITING, TechnicianRegistry, WAITING_GONE_MS, type RegistryOptions, type TechnicianRecord } from '../../src/assist/technicians.js'
import type { EnrollmentRequest } from '../../src/edge/enrollment.js'
import { checkCertificate } from '../../src/crypto/certificate.js'
import { generateIdentity, keyFingerprint, macOfKey } from '../../src/crypto/identity.js'
import { ManualClock } from '../../src/time/manual-clock.js'

const SESSION_END = Date.UTC(2026, 11, 1)

function request(name = 'alice'): EnrollmentRequest {
  const { publicKey } = generateIdentity()
  return { publicKey, fingerprint: keyFingerprint(publicKey), name, address: '198.51.100.7:40000' }
}

function setup(options: Partial<RegistryOptions> = {}): { registry: TechnicianRegistry; clock: ManualClock; requested: TechnicianRecord[]; gone: TechnicianRecord[]; authority: SessionAuthority } {
  const clock = new ManualClock(Date.UTC(2026, 10, 30, 12))
  const requested: TechnicianRecord[] = []
  const gone: TechnicianRecord[] = []
  const registry = new TechnicianRegistry({
    consent: 'ask',
    maxTechnicians: 2,
    device: { address: '10.99.0.1', prefix: 24 },
    now: () => clock.now(),
    onRequest: (r) => requested.push(r),
    onGone: (r) => gone.push(r),
    ...options,
  })
  const authority = SessionAuthority.generate()
  t.teardown(() => authority.destroy())
  return { registry, clock, requested, gone, authority }
}

/** What the service does on admission: issue, admit, (save), saved. */
function admit(s: ReturnType<typeof setup>, id: string, saved = true): void {
  const record = s.registry.checkAdmit(id)!
  const key = Buffer.from(record.publicKey, 'base64')
  const issued = s.authority.issue({ role: 'technician', serial: 2, memberKey: key, ipv4: s.registry.addressFor(key), name: record.name, notBefore: s.clock.now(), notAfter: SESSION_END })
  s.registry.admit(id, issued, 'api')
  if (saved) s.registry.saved()
}

t.test('a request waits; the certificate is answered only once saved, and again on a repeated poll', (t) => {
  const s = setup()
  const alice = request('Alice (ACME support)')
  t.same(s.registry.request(alice), { state: 'waiting' })
  t.equal(s.requested.length, 1, 'the service is told once')
  t.same(s.registry.request(alice), { state: 'waiting' }, 'a poll of the same request')
  t.equal(s.requested.length, 1, 'and not told again')
  const id = s.requested[0]!.id
  t.match(s.registry.get(id), { state: 'waiting', name: 'Alice (ACME support)', fingerprint: alice.fingerprint, address: '198.51.100.7:40000' })

  admit(s, id, false)
  t.same(s.registry.request(alice), { state: 'waiting' }, 'issued but not saved: still waiting')
  s.registry.saved()
  const answer = s.registry.request(alice)
  t.equal(answer.state, 'admitted')
  if (answer.state !== 'admitted') throw new Error(`not admitted: ${answer.state}`)
  const checked = checkCertificate(answer.certificate, { communityId: s.authority.communityId, nowSeconds: s.clock.now() / 1000 })
  t.ok(checked.ok, "the certificate verifies against the session's authority")
  if (!checked.ok) throw new Error(`the certificate does not verify: ${checked.reason}`)
  const c = checked.certificate
  t.match(c, { role: 'technician', name: 'Alice (ACME support)', notAfter: SESSION_END / 1000 })
  t.ok(c.memberKey.equals(alice.publicKey), 'for the key the request proved')
  t.ok(c.mac.equals(macOfKey(alice.publicKey)), 'MAC = macOfKey(its key)')
  t.match(c.ipv4, { address: /^10\.99\.0\.\d+$/, prefix: 24 })
  t.not(c.ipv4!.address, '10.99.0.1', "not the device's address")
  t.same(s.registry.request(alice), answer, 'a repeated poll gets the same certificate')
  t.end()
})

t.test('deny: told while it polls; after DENIED_ANSWERED_MS of silence, asking again is a new request', async (t) => {
  const s = setup()
  const bob = request('bob')
  s.registry.request(bob)
  const id = s.requested[0]!.id
  s.registry.deny(id, 'console')
  t.same(s.registry.request(bob), { state: 'denied' })
  await s.clock.advance(DENIED_ANSWERED_MS - 1)
  t.same(s.registry.request(bob), { state: 'denied' }, 'polled within the window: still denied')
  await s.clock.advance(DENIED_ANSWERED_MS)
  t.same(s.registry.request(bob), { state: 'waiting' }, 'a new request later')
  t.equal(s.requested.length, 2)
  t.not(s.requested[1]!.id, id, 'with an ID of its own')
  t.equal(s.registry.get(id)!.state, 'denied', 'the old one stays denied')
  t.throws(() => s.registry.checkAdmit(id), { name: 'DecisionConflict' }, 'a decision on the denied request is a conflict')
})

t.test('a waiting request whose client stops polling is gone (sweep), and the responder can say so', async (t) => {
  const s = setup()
  const carol = request('carol')
  const dave = request('dave')
  s.registry.request(carol)
  s.registry.request(dave)
  await s.clock.advance(WAITING_GONE_MS - 1)
  s.registry.request(dave)
  s.registry.sweep()
  t.same(s.gone, [], 'nobody is gone before WAITING_GONE_MS')
  await s.clock.advance(1)
  s.registry.sweep()
  t.same(s.gone.map((r) => r.name), ['carol'], 'carol, silent for WAITING_GONE_MS, is gone; dave polled')
  s.registry.gone(dave.fingerprint)
  t.same(s.gone.map((r) => r.name), ['carol', 'dave'], 'the responder says dave stopped asking')
  t.throws(() => s.registry.checkAdmit(s.requested[0]!.id), { name: 'DecisionConflict' }, 'a gone request cannot be admitted')
})

t.test('maxTechnicians caps admissions; "auto" answers closed when full; MAX_WAITING bounds a flood', (t) => {
  const s = setup()
  for (const name of ['a', 'b', 'c']) s.registry.request(request(name))
  admit(s, s.requested[0]!.id)
  admit(s, s.requested[1]!.id)
  t.throws(() => s.registry.checkAdmit(s.requested[2]!.id), { message: 'maxTechnicians (2) are admitted already: disconnect one first' })
  t.not(s.registry.get(s.requested[0]!.id)!.ip, s.registry.get(s.requested[1]!.id)!.ip, 'two addresses')

  const auto = setup({ consent: 'auto', maxTechnicians: 1 })
  auto.registry.request(request('first'))
  admit(auto, auto.requested[0]!.id)
  t.same(auto.registry.request(request('second')), { state: 'closed' }, 'auto mode, full: closed at once')

  const flood = setup()
  const answers = Array.from({ length: MAX_WAITING + 5 }, () => flood.registry.request(request('x')).state)
  t.equal(answers.filter((a) => a === 'waiting').length, MAX_WAITING, `${MAX_WAITING} wait`)
  t.equal(answers.filter((a) => a === 'closed').length, 5, 'the rest are closed')
  t.end()
})

t.test('a disconnected technician asking again is a new request; a closed session answers closed', (t) => {
  const s = setup()
  const erin = request('erin')
  s.registry.request(erin)
  const first = s.requested[0]!.id
  t.equal(s.registry.checkDisconnect('000000000000'), undefined, 'an unknown ID: undefined (the API answers 404)')
  t.throws(() => s.registry.checkDisconnect(first), { message: /is waiting, not admitted/ }, 'not yet admitted: a conflict')
  admit(s, first)
  t.equal(s.registry.checkDisconnect(first)!.state, 'admitted')
  s.registry.disconnect(first, Buffer.from('revocation bytes'), 'disconnected')
  t.same(s.registry.revocations(), [Buffer.from('revocation bytes')], 'its revocation is the session’s to hand the edge')
  t.same(s.registry.request(erin), { state: 'waiting' }, 'asks again: waits again')
  t.equal(s.requested.length, 2, 'the owner is asked again')
  s.registry.close()
  t.same(s.registry.request(erin), { state: 'closed' })
  t.same(s.registry.request(request('new')), { state: 'closed' })
  t.end()
})
