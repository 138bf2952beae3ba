// The supernode dies (SIGKILL: no goodbye, its registry lost) and comes back on the same
// address. Relay-only edges, whose every frame goes through it, register again by themselves
// and pings resume within 10 s of the restart.
import t from 'tap'
import { natLab } from '../fixtures/lab.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const RESUME_MS = 10_000

t.test('relay-only edges recover from a supernode restart', async (t) => {
  if (skipUnlessRoot(t, 'pings resume after the supernode restarts')) return
  const lab = await natLab(t)
  const siteA = await lab.addNatSite('cone')
  const siteB = await lab.addNatSite('cone')
  const first = await lab.startSupernode()
  const a = lab.startEdge(siteA, { address: '10.9.0.1/24', relayOnly: true })
  const b = lab.startEdge(siteB, { address: '10.9.0.2/24', relayOnly: true })
  const before = await lab.firstReply(siteA.ns, b.ip, 10_000)
  t.ok(before.ok, `pings pass before the restart (${before.ms} ms)`)

  const killed = await first.stop('SIGKILL')
  t.equal(killed?.signal, 'SIGKILL', 'the supernode was killed')
  const down = await lab.ping(siteA.ns, b.ip, 2)
  t.equal(down.received, 0, 'no ping passes while the supernode is down')

  const restartedAt = Date.now()
  await lab.startSupernode()
  const listeningMs = Date.now() - restartedAt
  const after = await lab.firstReply(siteA.ns, b.ip, RESUME_MS + 5_000)
  const resumeMs = after.at - restartedAt
  t.comment(`supernode listening ${listeningMs} ms after its restart; first ping answered ${resumeMs} ms after the restart`)
  t.ok(after.ok, 'pings resume')
  t.ok(after.ok && resumeMs <= RESUME_MS, `within ${RESUME_MS} ms (${resumeMs} ms)`)
  const steady = await lab.ping(siteB.ns, a.ip, 3)
  t.equal(steady.received, 3, `and both ways: B → A ${steady.received}/${steady.transmitted}`)
  const [statusA, statusB] = await Promise.all([a.status(), b.status()])
  t.ok(statusA.supernodes[0]?.registered && statusB.supernodes[0]?.registered, 'both edges registered again')
})
