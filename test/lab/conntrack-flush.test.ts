// The NAT routers forget every mapping (`conntrack -F`) under two edges on a direct path, while
// A pings B five times a second. Flushing B's NAT is the hard case: when A's next datagram
// reaches it first (most runs), it makes an inbound conntrack entry that forces B's own mapping
// toward A onto another port, and the direct path dies both ways; when B's crosses first, nothing
// is lost. Either way pings come back by themselves within 15 s (a path whose frames go unanswered
// for 2 s, or quiet for 6 s, turns suspect and frames take the relay); the outage and the paths are printed.
import t, { type Test } from 'tap'
import { natLab, waitFor, type NatLab, type Site } from '../fixtures/lab.js'
import { recoveryAfter } from '../fixtures/ping-series.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const RECOVERY_MS = 15_000
const PING_INTERVAL_MS = 200
/** pinging from 1 s before the flush to 4 s after the deadline: what comes back must stay */
const PINGS = (1_000 + RECOVERY_MS + 4_000) / PING_INTERVAL_MS

async function flushUnderDirectPath(t: Test, flush: (sites: { a: Site; b: Site }) => Site[]): Promise<void> {
  const lab: NatLab = await natLab(t)
  const siteA = await lab.addNatSite('cone')
  const siteB = await lab.addNatSite('cone')
  await lab.startSupernode()
  const a = lab.startEdge(siteA, { address: '10.9.0.1/24' })
  const b = lab.startEdge(siteB, { address: '10.9.0.2/24' })
  t.ok((await lab.firstReply(siteA.ns, b.ip, 10_000)).ok, 'A pings B')
  const direct = await waitFor('direct both ways', async () => ((await a.pathTo(b.ip)) === 'direct' && (await b.pathTo(a.ip)) === 'direct' ? true : undefined), 10_000)
  t.ok(direct.ok, 'direct both ways before the flush')

  const pings = lab.pingSeries(siteA.ns, b.ip, PINGS, PING_INTERVAL_MS)
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const routers = flush({ a: siteA, b: siteB })
  const flushedAt = Date.now()
  for (const site of routers) {
    const r = await lab.exec(site.router!, 'conntrack', ['-F'])
    t.equal(r.code, 0, `conntrack -F on ${site.label}'s NAT: ${r.stderr.trim()}`)
  }
  const paths: string[] = []
  const watch = (async (): Promise<void> => {
    while (Date.now() - flushedAt < RECOVERY_MS + 3_000) {
      const [ab, ba] = await Promise.all([a.pathTo(b.ip), b.pathTo(a.ip)])
      const seen = `${ab}/${ba}`
      if (paths.at(-1)?.endsWith(seen) !== true) paths.push(`+${Date.now() - flushedAt} ms ${seen}`)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  })()
  const [series] = await Promise.all([pings, watch])
  const { lost, outageMs } = recoveryAfter(series, flushedAt)
  t.comment(`paths A → B / B → A after the flush: ${paths.join(', ')}`)
  t.comment(`pings every ${PING_INTERVAL_MS} ms: ${series.replies.size}/${series.transmitted} answered, ${lost} lost; answered for good ${outageMs ?? 'never'} ms after the flush`)
  t.ok(outageMs !== null && outageMs <= RECOVERY_MS, `connectivity back by itself within ${RECOVERY_MS} ms (${outageMs ?? 'not'} ms)`)
  const [ab, ba] = await Promise.all([a.pathTo(b.ip), b.pathTo(a.ip)])
  t.comment(`path at the end: A → B ${ab}, B → A ${ba} (a dead direct path is punched again 30 s after it fell back to the relay)`)
}

t.test('conntrack -F on the far NAT: pings come back within 15 s', async (t) => {
  if (skipUnlessRoot(t, 'connectivity comes back after the NAT forgets its mappings')) return
  await flushUnderDirectPath(t, ({ b }) => [b])
})

t.test('conntrack -F on both NATs: pings come back within 15 s', async (t) => {
  if (skipUnlessRoot(t, 'connectivity comes back after both NATs forget their mappings')) return
  await flushUnderDirectPath(t, ({ a, b }) => [a, b])
})
