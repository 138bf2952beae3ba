// Keys do not outlive their session: an edge zeroes the keys it derived, its identity key and its
// pair sessions' keys when it stops (keys it was handed are their owner's to destroy), and a
// supernode zeroes its cookie secret at its stop. The objects' own key buffers are read after the stop: all zeros.
import t, { type Test } from 'tap'
import type { CommunityKeys, CookieMinter } from '../../src/crypto/index.js'
import type { Identity } from '../../src/crypto/identity.js'
import type { DataPath } from '../../src/edge/data-path.js'
import type { Edge } from '../../src/edge/edge.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { keysFor, pathOf, registered, startEdge, startSupernode, until } from '../fixtures/overlay.js'

const allZero = (buf: Uint8Array): boolean => buf.length > 0 && buf.every((b) => b === 0)

/** Checks each named buffer reads as all zeros (`zeroed`) or still holds a key. */
function expectZeroed(t: Test, zeroed: boolean, buffers: Record<string, Uint8Array>, when: string): void {
  for (const [name, buf] of Object.entries(buffers)) t.equal(allZero(buf), zeroed, `${name}: ${zeroed ? 'zeros' : 'a live key'} ${when}`)
}

/** The edge's private fields: what it holds is what must be zeroed. */
function secretsOf(edge: Edge): { identity: Identity; ownKeys: CommunityKeys | null; data: DataPath } {
  const inner = edge as unknown as { credentials: { identity: Identity; ownKeys: CommunityKeys | null }; data: DataPath }
  return { identity: inner.credentials.identity, ownKeys: inner.credentials.ownKeys, data: inner.data }
}

t.test('an edge that derived its own keys zeroes them, its identity key and its pair-session keys when it stops', async (t) => {
  const sn = await startSupernode(t)
  // no `keys`: this edge derives them from the secret itself, so they are its own
  const e = await startEdge(t, [sn], { keys: undefined, key: 'a secret of its own' })
  const peer = await startEdge(t, [sn], { keys: undefined, key: 'a secret of its own' })
  await Promise.all([registered(e), registered(peer)])
  e.tap.inject(ipv4Frame(peer.tap.mac, e.tap.mac, e.edge.overlay!.address, peer.edge.overlay!.address))
  await until('a session with the peer', () => pathOf(e, peer) === 'direct')
  const { identity, ownKeys, data } = secretsOf(e.edge)
  const session = [...data.peers.values()][0]!.session
  const held = {
    'community signing key': ownKeys!.signSecretKey,
    'identity key': identity.secretKey,
    'pair-session transport keys': session.current!.keyBytesForTest(),
  }
  expectZeroed(t, false, held, 'while the edge runs')
  await e.edge.stop()
  expectZeroed(t, true, held, 'after the stop')
  t.equal(session.state, 'closed', 'the session is closed')
})

t.test("keys handed to an edge are their owner's: its stop zeroes only its own", async (t) => {
  const sn = await startSupernode(t)
  const shared = await keysFor()
  const a = await startEdge(t, [sn], { keys: shared })
  const b = await startEdge(t, [sn], { keys: shared })
  await Promise.all([registered(a), registered(b)])
  const { identity } = secretsOf(a.edge)
  await a.edge.stop()
  expectZeroed(t, true, { "the stopped edge's identity key": identity.secretKey }, 'after its stop')
  expectZeroed(t, false, { 'the shared signing key': shared.signSecretKey }, 'for the other edge')
})

t.test("a supernode zeroes its cookie secret when it stops: a cookie it made before no longer checks", async (t) => {
  const sn = await startSupernode(t)
  const cookies = (sn as unknown as { cookies: CookieMinter }).cookies
  const secret = (cookies as unknown as { secret: Buffer }).secret
  const nonce = Buffer.alloc(8, 1)
  const endpoint = Buffer.from('127.0.0.1:1')
  const now = Math.floor(Date.now() / 1000)
  const cookie = cookies.mint(now, nonce, endpoint)
  t.ok(cookies.check(now, cookie, nonce, endpoint), 'valid while the supernode runs')
  expectZeroed(t, false, { 'cookie secret': secret }, 'while the supernode runs')
  await sn.stop()
  expectZeroed(t, true, { 'cookie secret': secret }, 'after the stop')
  t.notOk(cookies.check(now, cookie, nonce, endpoint), 'the old cookie is refused')
  t.notOk(cookies.check(now, cookies.mint(now, nonce, endpoint), nonce, endpoint), 'and so is one made with the zeroed secret')
})
