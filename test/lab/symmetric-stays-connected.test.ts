// One edge behind a port-restricted cone NAT, the other behind a symmetric one (MASQUERADE
// --random-fully: a new random port per destination). Whatever hole punching manages, the two
// stay connected: pings pass from the start and all through the punching schedule (~6.5 s).
import t from 'tap'
import { natLab, type PathName } from '../fixtures/lab.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const FIRST_PING_MS = 10_000
/** 0.25 s apart for 8 s: longer than the whole punching schedule (100 … 3200 ms, ~6.4 s) */
const PINGS = 32

t.test('cone / symmetric: pings pass through the relay while punching runs its course', async (t) => {
  if (skipUnlessRoot(t, 'an edge behind a symmetric NAT stays connected')) return
  const lab = await natLab(t)
  const cone = await lab.addNatSite('cone')
  const symmetric = await lab.addNatSite('symmetric')
  await lab.startSupernode()
  const a = lab.startEdge(cone, { address: '10.9.0.1/24' })
  const b = lab.startEdge(symmetric, { address: '10.9.0.2/24' })

  // counted from both edges being up, as in cone-cone-direct: a busy machine's node start-up is not what this tests
  const spawned = Date.now()
  const first = await lab.firstReply(cone.ns, b.ip, FIRST_PING_MS + 10_000)
  const up = Math.max(a.upAt ?? Infinity, b.upAt ?? Infinity)
  const firstPingMs = first.at - up
  t.ok(first.ok && firstPingMs <= FIRST_PING_MS, `first ping cone → symmetric ${firstPingMs} ms after both edges were up`)
  t.comment(`edges up ${up - spawned} ms after spawning; first ping cone → symmetric ${firstPingMs} ms after that`)

  // ping both ways across the punching schedule, and watch the path meanwhile
  const seen: { ms: number; ab: PathName | 'none'; ba: PathName | 'none' }[] = []
  const start = Date.now()
  const pings = Promise.all([lab.exec(cone.ns, 'ping', ['-4', '-n', '-c', String(PINGS), '-i', '0.25', '-W', '1', b.ip]), lab.exec(symmetric.ns, 'ping', ['-4', '-n', '-c', String(PINGS), '-i', '0.25', '-W', '1', a.ip])])
  let done = false
  void pings.then(() => (done = true))
  while (!done) {
    const [ab, ba] = await Promise.all([a.pathTo(b.ip), b.pathTo(a.ip)])
    const last = seen.at(-1)
    if (last?.ab !== ab || last.ba !== ba) seen.push({ ms: Date.now() - start, ab, ba })
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  const [fromCone, fromSymmetric] = await pings
  const received = (out: string): number => Number(/(\d+) received/.exec(out)?.[1] ?? 0)
  t.comment(`paths seen (cone → symmetric / symmetric → cone): ${seen.map((s) => `+${s.ms} ms ${s.ab}/${s.ba}`).join(', ')}`)
  t.comment(`pings over ${PINGS * 0.25} s: cone → symmetric ${received(fromCone.stdout)}/${PINGS}, symmetric → cone ${received(fromSymmetric.stdout)}/${PINGS}`)
  t.equal(received(fromCone.stdout), PINGS, 'no ping lost cone → symmetric')
  t.equal(received(fromSymmetric.stdout), PINGS, 'no ping lost symmetric → cone')
  const final = await a.pathTo(b.ip)
  t.comment(`path at the end: ${final}`)
  t.ok(final === 'relay' || final === 'direct' || final === 'punching', `the peer is known, path ${final}`)
})
