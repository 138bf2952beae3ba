// A port-restricted cone NAT on one side, a symmetric one (MASQUERADE --random-fully) on the
// other: the path still becomes direct on both sides within 30 s of the first ping (the
// symmetric side's mapping toward the cone has to be found, e.g. by probing many ports).
import t from 'tap'
import { natLab, type PathName } from '../fixtures/lab.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const DIRECT_MS = 30_000

t.test('cone / symmetric: direct within 30 s', async (t) => {
  if (skipUnlessRoot(t, 'a symmetric NAT on one side still goes direct')) return
  const lab = await natLab(t)
  const cone = await lab.addNatSite('cone')
  const symmetric = await lab.addNatSite('symmetric')
  await lab.startSupernode()
  const a = lab.startEdge(cone, { address: '10.9.0.1/24' })
  const b = lab.startEdge(symmetric, { address: '10.9.0.2/24' })
  const first = await lab.firstReply(cone.ns, b.ip, 10_000)
  t.ok(first.ok, `first ping (${first.ms} ms)`)

  // traffic both ways the whole time, as a user's session would have
  const seconds = String(Math.ceil(DIRECT_MS / 1000) + 2)
  lab.spawn('ping cone → symmetric', cone.ns, 'ping', ['-4', '-n', '-i', '0.5', '-w', seconds, b.ip])
  lab.spawn('ping symmetric → cone', symmetric.ns, 'ping', ['-4', '-n', '-i', '0.5', '-w', seconds, a.ip])
  const start = Date.now()
  const seen: string[] = []
  let direct = false
  while (Date.now() - start < DIRECT_MS) {
    const [ab, ba]: (PathName | 'none')[] = await Promise.all([a.pathTo(b.ip), b.pathTo(a.ip)])
    const now = `${ab}/${ba}`
    if (seen.at(-1)?.endsWith(` ${now}`) !== true) seen.push(`+${Date.now() - start} ms ${now}`)
    if (ab === 'direct' && ba === 'direct') {
      direct = true
      break
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  const ms = Date.now() - start
  t.comment(`paths seen (cone → symmetric / symmetric → cone): ${seen.join(', ')}`)
  t.comment(direct ? `direct on both sides ${ms} ms after the first ping` : `not direct after ${ms} ms`)
  t.ok(direct, `direct on both sides within ${DIRECT_MS} ms`)
})
