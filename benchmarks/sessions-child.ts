// A community of edges in one process (run with --expose-gc by the `sessions` section): one device
// and PEERS peers, each peer handshakes with the device; reports the time all handshakes took and
// the memory each pair session costs (heap + external, measured after a full collection).
import { systemClock } from '../src/time/clock.js'
import { Wiring } from './session-pairs.js'

const PEERS = Number(process.argv[2] ?? 999)

function memory(): { heap: number; external: number; rss: number } {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  gc()
  gc()
  const m = process.memoryUsage()
  // external already includes arrayBuffers (Buffers)
  return { heap: m.heapUsed, external: m.external, rss: m.rss }
}

const wiring = new Wiring(systemClock)
const device = wiring.addEdge()
const peers = Array.from({ length: PEERS }, () => wiring.addEdge())
const before = memory()
const start = process.hrtime.bigint()
for (const peer of peers) wiring.handshake(peer, device)
const ms = Number(process.hrtime.bigint() - start) / 1e6
const after = memory()
const ready = peers.filter((p) => device.table.session(p.publicKey)?.state === 'ready').length
if (ready !== PEERS || device.table.size !== PEERS) throw new Error(`only ${ready} of ${PEERS} sessions ready at the device`)
const sessionEnds = 2 * PEERS
process.send!({
  peers: PEERS,
  ms,
  perSessionBytes: (after.heap - before.heap + after.external - before.external) / sessionEnds,
  rssPerSessionBytes: (after.rss - before.rss) / sessionEnds,
  deviceIndices: device.table.indexCount,
})
