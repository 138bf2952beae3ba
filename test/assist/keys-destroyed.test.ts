// The assistance session's secrets die with it: on disable and on expiry (injected clock) the
// service's copies of the key, the join token, the admin password and the device edge's identity
// seed read as zeros, and the device edge's community keys (derived from the key's bytes, never from
// a string) and its identity key are zeroed when that edge stops.
import t from 'tap'
import { startSessionEdge } from '../../src/assist/device-edge.js'
import type { AssistanceService } from '../../src/assist/service.js'
import type { SessionSecrets } from '../../src/assist/session-secrets.js'
import { secretMemory } from '../../src/crypto/index.js'
import { MemoryTap } from '../../src/tap/memory-tap.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { startTestAssist } from '../fixtures/assist.js'
import { mac } from '../fixtures/frames.js'
import { startSupernode } from '../fixtures/overlay.js'

const allZero = (buf: Uint8Array): boolean => buf.length > 0 && buf.every((b) => b === 0)

/** The buffers the service holds for the running session (a private field: what it holds is what must be zeroed). */
function sessionBuffers(service: AssistanceService): Buffer[] {
  const session = (service as unknown as { session: { secrets: SessionSecrets } | null }).session
  return session?.secrets.buffers() ?? []
}

t.test('disable zeroes the key, the token and the admin password the service held', async (t) => {
  const a = await startTestAssist(t)
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 3600, adminAccess: true })
  t.equal(on.status, 200)
  const held = sessionBuffers(a.server.service)
  t.equal(held.length, 4, 'key, token, admin password and device identity')
  t.equal(held[1]!.toString('utf8'), on.json.token, 'the token held is the one handed out')
  t.equal(held[2]!.toString('utf8'), on.json.adminPassword, 'and so is the admin password')
  t.equal(held[3]!.length, 32, 'the identity seed')
  t.equal((await a.api('POST', '/api/assistance', { enabled: false })).status, 200)
  t.ok(held.every(allZero), 'all four read as zeros after the disable')
  t.same(sessionBuffers(a.server.service), [], 'and the service holds no session')
})

t.test('expiry zeroes them too (a minute on an injected clock)', async (t) => {
  const clock = new ManualClock(Date.now())
  const a = await startTestAssist(t, { clock })
  await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 60 })
  const held = sessionBuffers(a.server.service)
  t.equal(held.length, 3, 'key, token and device identity (no admin access asked)')
  t.notOk(held.some(allZero), 'live during the session')
  clock.jump(60_000)
  // the expiry runs through the service's queue and file I/O: step the clock (bounded) between
  // API round trips until the service says it is off
  const off = async (): Promise<boolean> => (await a.api('GET', '/api/assistance')).json.enabled === false
  for (let i = 0; i < 500 && !(await off()); i++) await clock.advance(1, 1)
  t.ok(await off(), 'the session expired')
  t.ok(held.every(allZero), 'zeros after the expiry')
})

t.test("the device edge's community keys and identity key are zeroed when it stops; the session key and identity seed stay the service's", async (t) => {
  const sn = await startSupernode(t)
  const key = secretMemory.copyOf('the session key')
  const seed = secretMemory.copyOf(Buffer.alloc(32, 0x5e))
  const edge = await startSessionEdge(
    { community: 'assist-test', key, mac: mac(0x31), identity: seed, supernodes: [{ host: '127.0.0.1', port: sn.port }], fallbacks: [], overlay: { address: '10.99.0.1', prefix: 24 }, expiresAt: Date.now() + 60_000 },
    { bind: { address: '127.0.0.1', port: 0 }, mgmt: null },
    { tap: new MemoryTap('dev-keys', mac(0x31)) },
  )
  const keys = edge.config.keys!
  const identity = edge.config.identity!
  t.notOk(allZero(keys.signSecretKey), 'derived and live')
  t.notOk(allZero(identity.secretKey), 'the identity key live')
  await edge.stop('disabled')
  t.ok(allZero(keys.signSecretKey), 'signing (authority) key: zeros')
  t.ok(allZero(identity.secretKey), 'identity key: zeros')
  t.equal(key.toString('utf8'), 'the session key', "the session key is left for the service to destroy with the session")
  t.ok(seed.equals(Buffer.alloc(32, 0x5e)), 'so is the identity seed (a restart of the service uses it again)')
})
