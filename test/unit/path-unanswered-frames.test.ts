// A direct path whose frames go unanswered (the peer restarted behind a new NAT mapping, and has
// no reason to send first) is probed after UNANSWERED_PROBE_MS and suspect after
// UNANSWERED_SUSPECT_MS, long before DIRECT_QUIET_MS; a live peer that answers the probe keeps the
// path direct, and a one-way flow costs one probe per UNANSWERED_PROBE_MS. Timers driven by hand.
import t from 'tap'
import type { PairSession } from '../../src/crypto/noise-session.js'
import { DIRECT_KEEPALIVE_MS, DIRECT_QUIET_MS, PeerPath, UNANSWERED_PROBE_MS, UNANSWERED_SUSPECT_MS, type PathOwner } from '../../src/edge/path.js'
import { inertPathActions } from '../fixtures/path-actions.js'

const PEER = { address: '198.51.100.7', port: 41000 }
const TICK_MS = 50

function directPath(): { owner: PathOwner & { txPackets: number }; probes: number[]; queries: number[]; path: PeerPath; now: { ms: number } } {
  const probes: number[] = []
  const queries: number[] = []
  const now = { ms: 1_000_000 }
  const actions = inertPathActions({ candidatesOverLimit: 0, candidatesOffLan: 0 }, { probe: () => void probes.push(now.ms), query: () => void queries.push(now.ms) })
  const owner = { edgeId: 7, session: {} as PairSession, txPackets: 0 } as PathOwner & { txPackets: number }
  const path = new PeerPath(owner, actions)
  ;(owner as { path: PeerPath }).path = path
  path.onProbeAck(PEER.address, PEER.port, null, 10, true, now.ms)
  return { owner, probes, queries, path, now }
}

/** Runs the path's timers every TICK_MS for `ms`; `each` runs before each tick. */
function run(p: ReturnType<typeof directPath>, ms: number, each: () => void = () => {}): void {
  for (let done = 0; done < ms; done += TICK_MS) {
    p.now.ms += TICK_MS
    each()
    p.path.runTimers(p.now.ms)
  }
}

t.test('frames into a dead endpoint: a probe after UNANSWERED_PROBE_MS, suspect after UNANSWERED_SUSPECT_MS', (t) => {
  const p = directPath()
  t.equal(p.path.state, 'direct')
  const start = p.now.ms
  let sentFirstAt = 0
  run(p, 3_000, () => {
    p.owner.txPackets++ // a frame each tick, never answered
    if (sentFirstAt === 0) sentFirstAt = p.now.ms
  })
  const suspectProbes = p.probes.filter((at) => at - sentFirstAt >= UNANSWERED_PROBE_MS && at - sentFirstAt < UNANSWERED_SUSPECT_MS)
  t.equal(suspectProbes.length, 1, `one probe ${UNANSWERED_PROBE_MS} ms after the first unanswered frame`)
  t.equal(p.path.state, 'suspect', `suspect ${UNANSWERED_SUSPECT_MS} ms after it (not ${DIRECT_QUIET_MS})`)
  t.ok(p.queries.length >= 1 && p.queries[0]! - start <= UNANSWERED_SUSPECT_MS + TICK_MS, `the supernode asked ${p.queries[0]! - start} ms after the frames started`)
  t.end()
})

t.test('a live peer that answers the probe keeps the path direct; a one-way flow costs one probe a second', (t) => {
  const p = directPath()
  const answeredAt: number[] = []
  run(p, 10_000, () => {
    p.owner.txPackets++
    // the peer sends nothing of its own, but answers each probe a tick later (its ack is heard straight)
    const last = p.probes.at(-1)
    if (last !== undefined && p.now.ms - last === TICK_MS && !answeredAt.includes(last)) {
      answeredAt.push(last)
      p.path.heardFrom(PEER.address, PEER.port, p.now.ms)
    }
  })
  t.equal(p.path.state, 'direct', 'still direct after 10 s of one-way traffic')
  t.ok(p.probes.length <= 10_000 / UNANSWERED_PROBE_MS + 10_000 / DIRECT_KEEPALIVE_MS, `${p.probes.length} probes in 10 s`)
  t.equal(p.queries.length, 0, 'the supernode was never asked')
  t.end()
})

t.test('a quiet pair (no frames either way) is left to the keepalive: no early probe', (t) => {
  const p = directPath()
  run(p, DIRECT_KEEPALIVE_MS - TICK_MS)
  t.equal(p.probes.length, 0, `nothing sent, nothing probed before the keepalive (${DIRECT_KEEPALIVE_MS} ms)`)
  t.equal(p.path.state, 'direct')
  t.end()
})
