// --expires-at: at that time the edge deregisters, removes its TAP device and exits 0 by itself,
// whatever else happens (the assistance session's hard stop).
import t from 'tap'
import { natLab, SUPERNODE_MGMT_URL, TAP, waitFor } from '../fixtures/lab.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

/** far enough ahead that the CLI is up and registered first even on a busy machine (node alone took ~10 s to start at a load of 14) */
const AHEAD_MS = 20_000
/** how late after the expiry the exit may come */
const EXIT_SLACK_MS = 5_000

t.test('--expires-at 20 s ahead: the TAP is gone and the edge exits 0', async (t) => {
  if (skipUnlessRoot(t, 'an edge stops by itself at --expires-at')) return
  const lab = await natLab(t)
  const site = await lab.addPublicHost()
  await lab.startSupernode()
  const expiresAt = new Date(Date.now() + AHEAD_MS)
  const edge = lab.startEdge(site, { address: '10.9.0.1/24', expiresAt })
  const registered = await edge.waitRegistered(AHEAD_MS)
  t.ok(registered.ok, 'registered before the expiry')
  t.ok(await lab.hasTap(site.ns), `${TAP} exists while the edge runs`)
  t.equal(registered.value?.expiresAt, expiresAt.toISOString(), '/status shows the expiry')

  const exit = await edge.waitExit(expiresAt.getTime() - Date.now() + EXIT_SLACK_MS)
  const lateMs = (edge.exitedAt ?? Date.now()) - expiresAt.getTime()
  t.comment(`edge exited ${lateMs} ms after --expires-at (${JSON.stringify(exit)})`)
  t.same(exit, { code: 0, signal: null }, 'exit code 0')
  t.ok(lateMs >= -50, 'not before the expiry')
  t.notOk(await lab.hasTap(site.ns), `${TAP} is gone from the namespace`)
  t.ok(await edge.waitForLine(/expired/, 1_000), 'the edge says why it stopped')
  const forgotten = await waitFor('the supernode forgets the edge', async () => {
    const status = await lab.getJson<{ edges: unknown[] }>(lab.supernodeNs, `${SUPERNODE_MGMT_URL}/status`)
    return status.edges.length === 0 ? true : undefined
  }, 2_000)
  t.ok(forgotten.ok, 'it deregistered: the supernode lists no edge')
})
