// A supernode alone in its own process, for the capacity benchmark: its RSS and CPU time are its
// own, and the parent asks for them (RSS after a full GC) over IPC. Rate limits are lifted: this
// measures how much the supernode can process, not its limiter.
import { Supernode } from '../src/supernode/supernode.js'

const node = await Supernode.start({
  port: 0,
  bindAddress: '127.0.0.1',
  mgmt: null,
  maxCommunities: 1_000_000,
  maxEdgesPerCommunity: 1_000_000,
  // the load comes from 64 source addresses, each holding ~1,600 edges on one port
  maxEdges: 10_000_000,
  maxEdgesPerEndpoint: 1_000_000,
  maxEdgesPerAddress: 1_000_000,
  maxTrackedSources: 100_000,
  controlRate: { perSecond: 1e9, burst: 1e9 },
  controlRatePerAddress: { perSecond: 1e9, burst: 1e9 },
  relayRate: { perSecond: 1e9, burst: 1e9 },
  // the budgets are checked on every relayed frame as usual, and never short
  relayBytesPerSource: { perSecond: 1e15, burst: 1e15 },
  relayBytesPerCommunity: { perSecond: 1e15, burst: 1e15 },
  keepaliveSeconds: 3600,
  // as `overlan supernode` runs on a machine of more than one core; OVERLAN_BENCH_INLINE_VERIFY=1 for one thread
  signatureWorker: process.env.OVERLAN_BENCH_INLINE_VERIFY !== '1',
})

process.on('message', (msg: { cmd: string }) => {
  if (msg.cmd === 'rss') {
    ;(globalThis as { gc?: () => void }).gc?.()
    process.send!({ rss: process.memoryUsage().rss, edges: node.registry.edges.size, drops: node.drops, counters: node.counters })
  } else if (msg.cmd === 'cpu') {
    const cpu = process.cpuUsage()
    process.send!({ cpuMicros: cpu.user + cpu.system })
  } else if (msg.cmd === 'stop') {
    void node.stop().then(() => process.exit(0))
  }
})
process.send!({ port: node.port })
