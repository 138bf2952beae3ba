// The assistance session's secrets die with it: on disable and on expiry (injected clock) the
// service's copies of the join token, the enrollment secret, the admin password and the session
// authority's key read as zeros; the device edge's identity key (a copy of the device's seed) is
// zeroed when that edge stops, while the device's seed stays the service's (it outlives sessions:
// receipts and tokens name it).
import t from 'tap'
import { startSessionEdge } from '../../src/assist/device-edge.js'
import type { SessionAuthority } from '../../src/assist/authority.js'
import type { AssistanceService } from '../../src/assist/service.js'
import type { SessionSecrets } from '../../src/assist/session-secrets.js'
import { secretMemory } from '../../src/crypto/index.js'
import { MemoryTap } from '../../src/tap/memory-tap.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { startTestAssist } from '../fixtures/assist.js'
import { deviceEdgeConfig } from '../fixtures/enrollment.js'
import { mac } from '../fixtures/frames.js'
import { startSupernode } from '../fixtures/overlay.js'

const allZero = (buf: Uint8Array): boolean => buf.length > 0 && buf.every((b) => b === 0)

/** The buffers the service holds for the running session (private fields: what it holds is what must be zeroed). */
function sessionBuffers(service: AssistanceService): Buffer[] {
  const session = (service as unknown as { session: { secrets: SessionSecrets; authority: SessionAuthority } | null }).session
  return session === null ? [] : [...session.secrets.buffers(), ...session.authority.buffers()]
}

t.test('disable zeroes the token, the admin password, the enrollment secret and the authority key the service held', async (t) => {
  const a = await startTestAssist(t)
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 3600, adminAccess: true })
  t.equal(on.status, 200)
  const held = sessionBuffers(a.server.service)
  t.equal(held.length, 5, 'token, admin password, enrollment secret, authority seed and secret key')
  t.equal(held[0]!.toString('utf8'), on.json.token, 'the token held is the one handed out')
  t.equal(held[1]!.toString('utf8'), on.json.adminPassword, 'and so is the admin password')
  t.equal(held[2]!.length, 32, 'the enrollment secret')
  t.notOk(held.some(allZero), 'all live during the session')
  t.equal((await a.api('POST', '/api/assistance', { enabled: false })).status, 200)
  t.ok(held.every(allZero), 'all five read as zeros after the disable')
  t.same(sessionBuffers(a.server.service), [], 'and the service holds no session')
})

t.test('expiry zeroes them too (a minute on an injected clock)', async (t) => {
  const clock = new ManualClock(Date.now())
  const a = await startTestAssist(t, { clock })
  await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 60 })
  const held = sessionBuffers(a.server.service)
  t.equal(held.length, 4, 'token, enrollment secret, authority seed and key (no admin access asked)')
  t.notOk(held.some(allZero), 'live during the session')
  clock.jump(60_000)
  // the expiry runs through the service's queue and file I/O: step the clock (bounded) between
  // API round trips until the service says it is off
  const off = async (): Promise<boolean> => (await a.api('GET', '/api/assistance')).json.enabled === false
  for (let i = 0; i < 500 && !(await off()); i++) await clock.advance(1, 1)
  t.ok(await off(), 'the session expired')
  t.ok(held.every(allZero), 'zeros after the expiry')
})

t.test("the device edge's identity key is zeroed when it stops; the device's seed stays the service's", async (t) => {
  const sn = await startSupernode(t)
  const seed = secretMemory.copyOf(Buffer.alloc(32, 0x5e))
  const edge = await startSessionEdge(
    deviceEdgeConfig(t, { mac: mac(0x31), identity: seed, supernodes: [{ host: '127.0.0.1', port: sn.port }], fallbacks: [], overlay: { address: '10.99.0.1', prefix: 24 }, expiresAt: Date.now() + 60_000 }),
    { bind: { address: '127.0.0.1', port: 0 }, mgmt: null },
    { tap: new MemoryTap('dev-keys', mac(0x31)) },
  )
  const identity = edge.config.identity!
  t.notOk(allZero(identity.secretKey), 'the identity key live')
  await edge.stop('disabled')
  t.ok(allZero(identity.secretKey), 'identity key: zeros')
  t.ok(seed.equals(Buffer.alloc(32, 0x5e)), 'the seed is left (a restart of the service, the next session, receipts use it again)')
})
