// Flooding (broadcast, multicast, unknown MACs) in protocol v2: sealed once with the sender's
// broadcast key and fanned out by the supernode, against sealing the frame once per peer with each
// pair session (and sending that many datagrams). The edge seals once (src/edge/broadcast-keys.ts);
// this says what that choice saves. The data path itself (one way, frames/s) is the datapath section.
import { BroadcastSender } from '../../src/edge/broadcast-keys.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { Community } from '../../test/fixtures/pair-sessions.js'
import { opsPerSecond, summarize, type Figure } from '../measure.js'

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
}

/** Microseconds to seal one flood for `members` peers: once with the broadcast key, and once per peer with each pair session. */
function floodCost(members: number, size: number): { once: number[]; perPair: number[] } {
  const frame = Buffer.alloc(size, 0x61)
  const out = Buffer.alloc(2048)
  const keys = new BroadcastSender(0)
  const once = opsPerSecond(() => keys.seal(out, frame)).map((ops) => 1e6 / ops)
  const community = new Community(new ManualClock())
  const self = community.add('self')
  const sessions = Array.from({ length: members }, (_, i) => {
    const peer = community.add(`p${i}`)
    community.session(self, peer).initiate()
    community.flush()
    return community.session(self, peer)
  })
  const perPair = opsPerSecond(() => {
    for (const s of sessions) s.seal(out, frame)
  }).map((ops) => 1e6 / ops)
  keys.destroy()
  for (const m of community.members) m.table.close()
  return { once, perPair }
}

export function broadcastSection(): Promise<Figure[]> {
  const figures: Figure[] = []
  for (const members of [3, 10, 100]) {
    for (const size of [60, 1400]) {
      const { once, perPair } = floodCost(members, size)
      const note = `per pair: ${median(perPair).toFixed(1)} µs (${(median(perPair) / median(once)).toFixed(1)} ×) and ${members} datagrams from the edge instead of 1`
      figures.push(summarize(`flood ${size} B to ${members} peers, sealed once with the broadcast key`, 'µs', once, { note }))
    }
  }
  return Promise.resolve(figures)
}
