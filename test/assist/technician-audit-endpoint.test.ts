// The audit log records where a technician connected from as the endpoint its session
// authenticated (the direct path's source, proven by a probe it answered) and who it is by its
// certificate's name and fingerprint: the certificate the session's authority issued it, with the
// address the service chose (a technician cannot claim another: the device drops any frame whose
// source is not its certificate's).
import t from 'tap'
import { poll, startTestAssist } from '../fixtures/assist.js'
import { technician } from '../fixtures/enrollment.js'
import { ipv4Frame } from '../fixtures/frames.js'

const CLAIMED = '192.0.2.66'

type Audit = { event: string; details: Record<string, unknown> }[]

/** Polls (100 ms apart) this many times at most: ~20 s, as punching on a busy machine is slow. */
const TRIES = 200

t.test('technician-joined and -left carry the authenticated endpoint and the certificate, never a claimed address', async (t) => {
  const a = await startTestAssist(t)
  await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600 })
  const mallory = technician(t, a.configs[0]!, 'mallory')
  mallory.poll()
  const answer = await poll(() => Promise.resolve(mallory.poll()), (x) => x.state !== 'waiting')
  if (answer.state !== 'admitted') throw new Error(`not admitted: ${answer.state}`)
  const { edge: tech, tap } = await mallory.join(answer.certificate)
  const device = a.taps[0]!
  const audit = async (): Promise<Audit> => (await a.api('GET', '/api/audit')).json as unknown as Audit
  // the technician's socket as the supernode sees it: the only address it cannot make up
  const own = await poll(() => Promise.resolve(tech.status().supernodes[0]?.publicEndpoint ?? null), (e) => e !== null, TRIES)
  t.match(own, /^127\.0\.0\.1:\d+$/, `the technician's endpoint: ${own}`)

  // a frame from a source address that is not its certificate's: dropped at the device, and recorded nowhere
  tap.inject(ipv4Frame(device.mac, tap.mac, CLAIMED, '10.99.0.1'))
  tap.inject(ipv4Frame(device.mac, tap.mac, tech.overlay!.address, '10.99.0.1'))
  type Listed = { technicians: { path: string | null; ip: string | null }[] }
  const direct = await poll(async () => (await a.api('GET', '/api/assistance')).json as unknown as Listed, (l) => l.technicians[0]?.path === 'direct', TRIES)
  t.match(direct.technicians, [{ path: 'direct', ip: tech.overlay!.address }], "a direct path; the address is the certificate's")

  const joined = (await poll(audit, (l) => l.some((r) => r.event === 'technician-joined'), TRIES)).find((r) => r.event === 'technician-joined')!
  t.ok(joined.details.endpoint === null || joined.details.endpoint === own, `its endpoint is the authenticated one, or null while relayed (${String(joined.details.endpoint)}, path ${String(joined.details.path)})`)
  t.match(joined.details, { name: 'mallory', path: String, certificate: tech.status().certificate.fingerprint })

  await a.api('POST', '/api/assistance', { enabled: false })
  const log = await audit()
  const left = log.find((r) => r.event === 'technician-left')!
  t.match(left.details, { name: 'mallory', certificate: joined.details.certificate, endpoint: own, reason: 'session ended' }, 'the leave record has the certificate and the endpoint its direct path authenticated')
  t.notMatch(JSON.stringify(log), CLAIMED, `the claimed ${CLAIMED} appears nowhere in the audit log`)
})
