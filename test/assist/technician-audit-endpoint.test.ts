// The audit log records where a technician connected from as the endpoint its session
// authenticated (the direct path's source, proven by a probe it answered) and who it is by its
// certificate's name and fingerprint, never the overlay address it chose: technicians join with the
// session's shared secret and issue their own certificates, so that address is their own word. A
// technician claiming an address that is not its own leaves no trace of it.
import t from 'tap'
import { decodeJoinToken } from '../../src/assist/join-token.js'
import { Edge } from '../../src/edge/edge.js'
import { MemoryTap } from '../../src/tap/memory-tap.js'
import { poll, startTestAssist } from '../fixtures/assist.js'
import { ipv4Frame, mac } from '../fixtures/frames.js'

const CLAIMED = '192.0.2.66'

type Audit = { event: string; details: Record<string, unknown> }[]

/** Polls (100 ms apart) this many times at most: ~20 s, as punching on a busy machine is slow. */
const TRIES = 200

t.test('technician-joined and -left carry the authenticated endpoint, not the claimed overlay address', async (t) => {
  const a = await startTestAssist(t)
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600 })
  const token = decodeJoinToken(on.json.token as string)
  const tap = new MemoryTap('tech0', mac(0x7e))
  const tech = await Edge.start({ community: token.community, key: token.key, supernodes: token.supernodes, overlay: { address: CLAIMED, prefix: 24 }, name: 'mallory', bind: { address: '127.0.0.1', port: 0 }, mgmt: null }, { tap })
  t.teardown(() => tech.stop())
  const device = a.taps[0]!
  const audit = async (): Promise<Audit> => (await a.api('GET', '/api/audit')).json as unknown as Audit
  // the technician's socket as the supernode sees it: the only address it cannot make up
  const own = await poll(() => Promise.resolve(tech.status().supernodes[0]?.publicEndpoint ?? null), (e) => e !== null, TRIES)
  t.match(own, /^127\.0\.0\.1:\d+$/, `the technician's endpoint: ${own}`)

  tap.inject(ipv4Frame(device.mac, tap.mac, CLAIMED, '10.99.0.1'))
  type Listed = { technicians: { path: string; endpoint: string | null; ip: string | null }[] }
  const direct = await poll(async () => (await a.api('GET', '/api/assistance')).json as unknown as Listed, (l) => l.technicians[0]?.path === 'direct', TRIES)
  t.match(direct.technicians, [{ path: 'direct', endpoint: own }], 'a direct path, authenticated from that endpoint')

  const joined = (await poll(audit, (l) => l.some((r) => r.event === 'technician-joined'), TRIES)).find((r) => r.event === 'technician-joined')!
  t.notOk('ip' in joined.details, 'no overlay address in the join record')
  t.ok(joined.details.endpoint === null || joined.details.endpoint === own, `its endpoint is the authenticated one, or null while relayed (${String(joined.details.endpoint)}, path ${String(joined.details.path)})`)
  t.match(joined.details, { name: 'mallory', path: String, fingerprint: tech.status().certificate.fingerprint })

  await a.api('POST', '/api/assistance', { enabled: false })
  const log = await audit()
  const left = log.find((r) => r.event === 'technician-left')!
  t.same(left.details, { id: joined.details.id, name: 'mallory', fingerprint: joined.details.fingerprint, endpoint: own, reason: 'session ended' }, 'the leave record has the certificate and the endpoint its direct path authenticated')
  t.notMatch(JSON.stringify(log), CLAIMED, `the claimed ${CLAIMED} appears nowhere in the audit log`)
})
