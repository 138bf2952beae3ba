// What the data-path benchmark's threads share: a TAP that only counts, a frame between two
// overlay hosts, the paced sender loop, and edges started against a loopback supernode.
import { setImmediate as turn } from 'node:timers/promises'
import { deriveCommunityKeys } from '../src/crypto/keys.js'
import { Edge } from '../src/edge/edge.js'
import type { FrameReceiver, TapDevice } from '../src/tap/device.js'
import { formatEdgeId } from '../src/wire/index.js'

/** Frames per sender turn: as the TAP addon delivers them. */
export const BATCH = 64
export const SECONDS = 1.5
/** After a timed run, turns given to what is still in flight to land (counted, and timed). */
const DRAIN_TURNS = 20

export const MAC_A = Buffer.from('020000000001', 'hex')
export const MAC_B = Buffer.from('020000000002', 'hex')

/** A TAP device that only counts what reaches the host, and lets the benchmark play the host. */
export class CountingTap implements TapDevice {
  received = 0
  receiver: FrameReceiver | null = null
  constructor(
    readonly name: string,
    readonly mac: Buffer,
    readonly mtu = 1400,
  ) {}
  onFrame(receiver: FrameReceiver): void {
    this.receiver = receiver
  }
  write(): boolean {
    this.received++
    return true
  }
  close(): Promise<void> {
    return Promise.resolve()
  }
}

/** An IPv4/UDP-looking frame of `size` bytes from `src` to `dst` (what the filters look at). */
export function frame(dst: Buffer, src: Buffer, size: number): Buffer {
  const f = Buffer.alloc(size, 0x61)
  dst.copy(f, 0)
  src.copy(f, 6)
  f.writeUInt16BE(0x0800, 12)
  f[14] = 0x45
  f[23] = 17
  Buffer.from([10, 9, 0, 1]).copy(f, 26)
  Buffer.from([10, 9, 0, 2]).copy(f, 30)
  return f
}

/** Sends batches of `BATCH` for `SECONDS`, yielding a turn between batches; returns the seconds taken, drain included. */
export async function blast(send: () => void): Promise<number> {
  const start = performance.now()
  while (performance.now() - start < SECONDS * 1000) {
    for (let i = 0; i < BATCH; i++) send()
    await turn()
  }
  for (let i = 0; i < DRAIN_TURNS; i++) await turn()
  return (performance.now() - start) / 1000
}

export async function startBenchEdge(supernodePort: number, tap: CountingTap, address: string): Promise<Edge> {
  const keys = await deriveCommunityKeys('bench', 'bench-key')
  return Edge.start(
    { community: 'bench', keys, supernodes: [{ host: '127.0.0.1', port: supernodePort }], bind: { address: '127.0.0.1', port: 0 }, mgmt: null, overlay: { address, prefix: 24 } },
    { tap },
  )
}

/** Sends a frame now and then until the path to `peerId` is direct (or 2 s pass). */
export async function untilDirect(edge: Edge, tap: CountingTap, peerId: () => number | undefined, f: Buffer): Promise<boolean> {
  for (let i = 0; i < 400; i++) {
    const id = peerId()
    if (id !== undefined && edge.status().peers.find((p) => p.id === formatEdgeId(id))?.path === 'direct') return true
    if (i % 20 === 0) tap.receiver?.(f)
    await new Promise((r) => setTimeout(r, 5))
  }
  return false
}
