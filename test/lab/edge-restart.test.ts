// An edge dies (SIGKILL: no goodbye, its registration left behind) and is started again with the
// same command, which names its identity key (--identity): the same member, edge ID and MAC (the
// MAC is derived from the key). Its peer reaches it again by itself within 15 s of the restart,
// both ways, and the path becomes direct again; the times from the restart are printed
// (OVERLAN_SOAK=1: ten rounds in a row). Protocol v2: the supernode and the peer take the same key
// back at once; another key would wait until the old holder has been silent for 25 s.
import t from 'tap'
import { natLab, waitFor } from '../fixtures/lab.js'
import { labFiles, makeIdentity } from '../fixtures/lab-members.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const RECOVERY_MS = 15_000
/** kill and restart this many times in a row (OVERLAN_SOAK=1: npm run soak) */
const ROUNDS = process.env.OVERLAN_SOAK === '1' ? 10 : 1

t.test('an edge killed and restarted: its peer reaches it again within 15 s', async (t) => {
  if (skipUnlessRoot(t, 'connectivity comes back after an edge is killed and restarted')) return
  const lab = await natLab(t)
  const identity = await makeIdentity(await labFiles(t), 'a')
  const siteA = await lab.addNatSite('cone')
  const siteB = await lab.addNatSite('cone')
  await lab.startSupernode()
  const first = lab.startEdge(siteA, { address: '10.9.0.1/24', identity }, 'A#1')
  const b = lab.startEdge(siteB, { address: '10.9.0.2/24' })
  t.ok((await lab.firstReply(siteB.ns, first.ip, 10_000)).ok, 'B pings A')
  const direct = await waitFor('direct both ways', async () => ((await first.pathToEdge(b)) === 'direct' && (await b.pathToEdge(first)) === 'direct' ? true : undefined), 10_000)
  t.ok(direct.ok, 'direct both ways before the kill')

  let current = first
  for (let round = 1; round <= ROUNDS; round++) {
    const killed = await current.stop('SIGKILL')
    t.equal(killed?.signal, 'SIGKILL', `round ${round}: A was killed`)
    const restartedAt = Date.now()
    const next = lab.startEdge(siteA, { address: '10.9.0.1/24', identity }, `A#${round + 1}`)
    // B keeps pinging A's address, as a user would: its kernel still has A's old MAC
    const back = await lab.firstReply(siteB.ns, next.ip, RECOVERY_MS + 10_000)
    const upMs = (next.upAt ?? NaN) - restartedAt
    const registeredAt = next.lineTime(/registered with supernode/)
    const backMs = back.at - restartedAt
    t.comment(`round ${round}: A#${round + 1} up ${upMs} ms after the restart, registered at ${registeredAt === undefined ? '-' : registeredAt - restartedAt} ms; B → A answered ${back.ok ? backMs : 'never'} ms after the restart`)
    t.ok(back.ok && backMs <= RECOVERY_MS, `B reaches A again within ${RECOVERY_MS} ms of the restart (${backMs} ms)`)
    const reverse = await lab.ping(siteA.ns, b.ip, 3)
    t.equal(reverse.received, 3, `and A → B: ${reverse.received}/${reverse.transmitted}`)

    const directAgain = await waitFor('direct both ways', async () => ((await next.pathToEdge(b)) === 'direct' && (await b.pathToEdge(next)) === 'direct' ? true : undefined), 15_000)
    t.comment(`round ${round}: direct both ways again ${directAgain.ok ? Date.now() - restartedAt : 'not within ' + (Date.now() - restartedAt)} ms after the restart`)
    t.ok(directAgain.ok, 'the path is direct again')
    current = next
  }
})
