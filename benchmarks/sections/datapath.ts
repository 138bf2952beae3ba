// The data path in one process, no root: counting TAP → edge → loopback UDP → edge → counting TAP,
// 1400- and 64-byte frames, direct path; against raw node:dgram one way, same sizes, same pacing
// (batches of 64, as the TAP addon delivers them), same run. Targets: ≥ 150,000 frames/s at 1400 B,
// ≥ 0.5 of raw dgram.
import { createSocket, type Socket } from 'node:dgram'
import { setImmediate as turn } from 'node:timers/promises'
import { deriveCommunityKeys } from '../../src/crypto/keys.js'
import { Edge } from '../../src/edge/edge.js'
import { Supernode } from '../../src/supernode/supernode.js'
import type { FrameReceiver, TapDevice } from '../../src/tap/device.js'
import { RUNS, summarize, withBaseline, type Figure } from '../measure.js'

const BATCH = 64
const SECONDS = 1.5

/** A TAP device that only counts what reaches the host, and lets the benchmark play the host. */
class CountingTap implements TapDevice {
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

function frame(dst: Buffer, src: Buffer, size: number): Buffer {
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

/** Sends batches of `BATCH` for `SECONDS`, yielding a turn between batches; returns frames/s delivered. */
async function blast(send: () => void, delivered: () => number): Promise<number> {
  const start0 = delivered()
  const start = performance.now()
  while (performance.now() - start < SECONDS * 1000) {
    for (let i = 0; i < BATCH; i++) send()
    await turn()
  }
  // let what is in flight land
  for (let i = 0; i < 20; i++) await turn()
  return (delivered() - start0) / ((performance.now() - start) / 1000)
}

async function rawDgram(size: number): Promise<number[]> {
  const rx: Socket = createSocket('udp4')
  const tx: Socket = createSocket('udp4')
  await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r))
  await new Promise<void>((r) => tx.bind(0, '127.0.0.1', r))
  let got = 0
  rx.on('message', () => void got++)
  const payload = Buffer.alloc(size + 44)
  const port = rx.address().port
  const results: number[] = []
  for (let run = 0; run < RUNS; run++) {
    results.push(
      await blast(
        () => {
          if (tx.getSendQueueCount() < 512) tx.send(payload, port, '127.0.0.1')
        },
        () => got,
      ),
    )
  }
  rx.close()
  tx.close()
  return results
}

async function overlay(size: number): Promise<{ rates: number[]; direct: boolean }> {
  const sn = await Supernode.start({ port: 0, bindAddress: '127.0.0.1', mgmt: null })
  const keys = await deriveCommunityKeys('bench', 'bench-key')
  const tapA = new CountingTap('a', Buffer.from('020000000001', 'hex'))
  const tapB = new CountingTap('b', Buffer.from('020000000002', 'hex'))
  const config = { community: 'bench', keys, supernodes: [{ host: '127.0.0.1', port: sn.port }], bind: { address: '127.0.0.1', port: 0 }, mgmt: null }
  const a = await Edge.start({ ...config, overlay: { address: '10.9.0.1', prefix: 24 } }, { tap: tapA })
  const b = await Edge.start({ ...config, overlay: { address: '10.9.0.2', prefix: 24 } }, { tap: tapB })
  const f = frame(tapB.mac, tapA.mac, size)
  // until both are registered and the path is direct
  for (let i = 0; i < 400 && a.peers.get(b.edgeId)?.path !== 'direct'; i++) {
    if (i % 20 === 0) tapA.receiver?.(f)
    await new Promise((r) => setTimeout(r, 5))
  }
  const direct = a.peers.get(b.edgeId)?.path === 'direct'
  const rates: number[] = []
  for (let run = 0; run < RUNS; run++) rates.push(await blast(() => tapA.receiver!(f), () => tapB.received))
  await a.stop()
  await b.stop()
  await sn.stop()
  return { rates, direct }
}

export async function datapathSection(): Promise<Figure[]> {
  const figures: Figure[] = []
  for (const size of [1400, 64]) {
    const raw = summarize(`raw dgram ${size} B one way`, 'frames/s', await rawDgram(size))
    const { rates, direct } = await overlay(size)
    const target = size === 1400 ? { ratio: 0.5 } : undefined
    const fig = withBaseline(summarize(`overlay ${size} B one way (direct)`, 'frames/s', rates, direct ? {} : { note: 'the path was not direct' }), raw, target)
    figures.push(raw, fig)
    figures.push(summarize(`overlay ${size} B one way`, 'Mbit/s', rates.map((r) => (r * size * 8) / 1e6)))
    if (size === 1400) figures.push({ ...summarize(`overlay ${size} B frames/s vs 150,000`, 'frames/s', rates), target: '≥ 150,000 frames/s', met: fig.median >= 150_000 })
  }
  return figures
}
