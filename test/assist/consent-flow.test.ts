// Consent in one process (issue 13), the owner's half: the service is the session's authority. A
// technician's request waits for the owner; Allow hands it a certificate of its own and frames
// flow; the technician is listed with path and traffic; Disconnect revokes that certificate alone:
// the device drops it at once, the supernode refuses it from then on, another technician is not
// affected; Deny is answered "denied"; "auto" admits up to maxTechnicians; switch-off revokes every
// admitted technician. The test plays the device edge's enrollment responder (fixtures/enrollment.ts).
import t from 'tap'
import { CERTIFICATE_REFUSED, REVOKED_DISCONNECTED, REVOKED_SESSION_ENDED } from '../../src/edge/registration.js'
import { poll, startTestAssist, type TestAssist } from '../fixtures/assist.js'
import { technician, type TestTechnician } from '../fixtures/enrollment.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { loadState } from '../../src/assist/state-file.js'
import type { MemoryTap } from '../../src/tap/memory-tap.js'
import { RevocationCause, decodeRevocation } from '../../src/wire/revocation.js'

interface Listed {
  id: string
  name: string
  fingerprint: string
  state: string
  address: string
  ip: string | null
  path: string | null
  rxBytes: number
  txBytes: number
  lastSeenMs: number | null
  certificate: string | null
  decidedBy: string | null
}

const list = async (a: TestAssist): Promise<Listed[]> => (await a.api('GET', '/api/technicians')).json as unknown as Listed[]
type Audit = { event: string; details: Record<string, unknown> }[]
const audit = async (a: TestAssist): Promise<Audit> => (await a.api('GET', '/api/audit')).json as unknown as Audit

/** Sends a frame from the technician's TAP to the device every 20 ms until one arrives (100 tries). */
async function reaches(device: MemoryTap, tap: MemoryTap, ip: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const before = device.written.length
    tap.inject(ipv4Frame(device.mac, tap.mac, ip, '10.99.0.1'))
    await new Promise((resolve) => setTimeout(resolve, 20))
    if (device.written.length > before) return
  }
  throw new Error(`nothing from ${ip} reached the device`)
}

/** Polls as the responder does until the answer is no longer "waiting". */
async function answered(tech: TestTechnician): Promise<ReturnType<TestTechnician['poll']>> {
  let answer = tech.poll()
  for (let i = 0; i < 100 && answer.state === 'waiting'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    answer = tech.poll()
  }
  return answer
}

t.test('ask: waits; Allow → its own certificate, frames reach the device, listed with path and traffic; Disconnect → dropped, refused', async (t) => {
  const a = await startTestAssist(t)
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600, consent: 'ask' })
  t.equal(on.status, 200)
  const alice = technician(t, a.configs[0]!, 'Alice (ACME support)')
  t.same(alice.poll(), { state: 'waiting' }, 'the request waits')
  const waiting = await poll(() => list(a), (l) => l.length === 1)
  t.match(waiting, [{ id: /^[0-9a-f]{12}$/, name: 'Alice (ACME support)', fingerprint: alice.fingerprint, state: 'waiting', address: '198.51.100.20:41000', ip: null, path: null, certificate: null, decidedBy: null }])
  t.same((await a.api('GET', '/api/assistance')).json.technicians, waiting, 'GET /api/assistance lists the same objects')
  t.same(alice.poll(), { state: 'waiting' }, 'still waiting: nobody decided')

  const id = waiting[0]!.id
  const allow = await a.api('POST', `/api/technicians/${id}`, { admit: true })
  t.match(allow, { status: 200, json: { id, state: 'admitted', ip: /^10\.99\.0\.\d+$/, certificate: /^[a-z2-7]{32}$/, decidedBy: 'api' } })
  const answer = await answered(alice)
  t.equal(answer.state, 'admitted')
  if (answer.state !== 'admitted') return
  t.match((await a.api('POST', `/api/technicians/${id}`, { admit: false })).status, 409, 'a second decision: 409')

  const { edge, tap } = await alice.join(answer.certificate)
  const device = a.taps[0]!
  await reaches(device, tap, allow.json.ip as string)
  const seen = await poll(() => list(a), (l) => l[0]!.path !== null && l[0]!.rxBytes > 0)
  t.match(seen, [{ state: 'admitted', path: /direct|relay|punching/, rxBytes: Number, lastSeenMs: Number }], 'listed with its path and traffic')
  t.ok(seen[0]!.rxBytes > 0, `rxBytes ${seen[0]!.rxBytes}`)

  const stopped = new Promise<string>((resolve) => edge.once('stopped', resolve))
  const cut = await a.api('DELETE', `/api/technicians/${id}`)
  t.match(cut, { status: 200, json: { id, state: 'disconnected' } })
  const before = device.written.length
  tap.inject(ipv4Frame(device.mac, tap.mac, allow.json.ip as string, '10.99.0.1'))
  t.equal(await stopped, REVOKED_DISCONNECTED, "the supernode removes alice and hands her the signed revocation: her edge stops, 'disconnected'")
  t.equal(device.written.length, before, 'nothing of hers reaches the device after the disconnect')
  t.equal((await a.api('DELETE', `/api/technicians/${id}`)).status, 409, 'disconnecting again: 409')
  const saved = await loadState(a.stateDir)
  const revocation = saved.ok ? saved.state.session?.technicians.find((x) => x.id === id)?.revocation : undefined
  t.match(decodeRevocation(Buffer.from(revocation ?? '', 'base64')), { ok: true, value: { cause: RevocationCause.Disconnected } }, 'the saved revocation says why, signed: disconnected')

  const again = await alice.join(answer.certificate)
  t.equal(await new Promise<string>((resolve) => again.edge.once('stopped', resolve)), CERTIFICATE_REFUSED, 'registering again with it: refused')

  const events = (await audit(a)).filter((r) => r.event.startsWith('technician-'))
  t.match(events.find((r) => r.event === 'technician-request'), { details: { id, name: 'Alice (ACME support)', fingerprint: alice.fingerprint, address: '198.51.100.20:41000' } })
  t.match(events.find((r) => r.event === 'technician-admitted'), { details: { id, name: 'Alice (ACME support)', fingerprint: alice.fingerprint, certificate: seen[0]!.certificate, by: 'api' } })
  t.match(events.find((r) => r.event === 'technician-disconnected'), { details: { id, fingerprint: alice.fingerprint, certificate: seen[0]!.certificate, reason: 'disconnected', by: 'api' } })
})

t.test('Deny: the request is answered "denied", audited; unknown IDs 404, bad bodies 400', async (t) => {
  const a = await startTestAssist(t)
  await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600, consent: 'ask' })
  const mallory = technician(t, a.configs[0]!, 'mallory')
  mallory.poll()
  const [{ id }] = (await poll(() => list(a), (l) => l.length === 1)) as [Listed]
  t.equal((await a.api('POST', `/api/technicians/${id}`, { admit: 'yes' })).json.field, 'admit')
  t.equal((await a.api('POST', `/api/technicians/${id}`, { admit: true, extra: 1 })).json.field, 'extra')
  t.equal((await a.api('POST', `/api/technicians/${id}`, {})).status, 400)
  t.equal((await a.api('PUT', `/api/technicians/${id}`, { admit: true })).status, 405)
  for (const other of ['000000000000', 'not-an-id', '%zz']) {
    t.equal((await a.api('POST', `/api/technicians/${other}`, { admit: true })).status, 404, `POST ${other}: 404`)
    t.equal((await a.api('DELETE', `/api/technicians/${other}`)).status, 404, `DELETE ${other}: 404`)
  }
  t.match(await a.api('POST', `/api/technicians/${id}`, { admit: false }), { status: 200, json: { state: 'denied', decidedBy: 'api' } })
  t.same(mallory.poll(), { state: 'denied' }, 'its next poll is answered "denied"')
  t.equal((await a.api('POST', `/api/technicians/${id}`, { admit: true })).status, 409, 'admitting a denied request: 409')
  t.equal((await a.api('DELETE', `/api/technicians/${id}`)).status, 409, 'disconnecting a denied request: 409')
  t.match((await audit(a)).find((r) => r.event === 'technician-denied'), { details: { id, name: 'mallory', fingerprint: mallory.fingerprint, by: 'api' } })
})

t.test('auto admits up to maxTechnicians, then answers closed; two admitted, one disconnected, the other unaffected; switch-off revokes the rest', async (t) => {
  const a = await startTestAssist(t)
  await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600, maxTechnicians: 2 })
  const config = a.configs[0]!
  const [bob, carol, dave] = [technician(t, config, 'bob'), technician(t, config, 'carol'), technician(t, config, 'dave')]
  bob.poll()
  const bobAnswer = await answered(bob)
  carol.poll()
  const carolAnswer = await answered(carol)
  t.equal(bobAnswer.state, 'admitted', 'bob admitted without a decision (auto)')
  t.equal(carolAnswer.state, 'admitted', 'carol too')
  if (bobAnswer.state !== 'admitted' || carolAnswer.state !== 'admitted') return
  t.same(dave.poll(), { state: 'closed' }, 'a third: closed (maxTechnicians 2)')
  const listed = await list(a)
  t.match(listed, [{ name: 'bob', state: 'admitted', decidedBy: 'auto' }, { name: 'carol', state: 'admitted', decidedBy: 'auto' }])

  const b = await bob.join(bobAnswer.certificate)
  const c = await carol.join(carolAnswer.certificate)
  const device = a.taps[0]!
  const reach = (who: { tap: MemoryTap }, ip: string): Promise<void> => reaches(device, who.tap, ip)
  await reach(b, listed[0]!.ip!)
  await reach(c, listed[1]!.ip!)

  const bobStopped = new Promise<string>((resolve) => b.edge.once('stopped', resolve))
  t.equal((await a.api('DELETE', `/api/technicians/${listed[0]!.id}`)).status, 200)
  t.equal(await bobStopped, REVOKED_DISCONNECTED, 'bob is out')
  await reach(c, listed[1]!.ip!)
  t.pass('carol still reaches the device after bob was disconnected')
  t.equal(c.edge.status().supernodes[0]!.registered, true, 'and is still registered')
  t.same(dave.poll(), { state: 'waiting' }, 'a place is free again: dave waits, and auto admits him')
  t.equal((await answered(dave)).state, 'admitted')

  const carolStopped = new Promise<string>((resolve) => c.edge.once('stopped', resolve))
  t.equal((await a.api('POST', '/api/assistance', { enabled: false })).status, 200)
  t.equal(await carolStopped, REVOKED_SESSION_ENDED, "switch-off revoked carol's certificate: her edge stops, 'session-ended'")
  const ends = (await audit(a)).filter((r) => r.event === 'technician-disconnected' && r.details.reason === 'session-ended')
  t.same(ends.map((r) => r.details.name).sort(), ['carol', 'dave'], 'each admitted technician is audited as disconnected by the session end')
})
