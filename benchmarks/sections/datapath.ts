// The data path, no root: counting TAP → edge → loopback UDP → edge → counting TAP, 1400- and
// 64-byte frames, direct path; against raw node:dgram one way, same sizes, same pacing (batches of
// 64, as the TAP addon delivers them), same run. Twice: both sides in one thread (one core), and
// each side in a thread of its own (worker_threads, one process), as two edges on a 2-core machine
// would run. Targets: ≥ 150,000 frames/s at 1400 B, ≥ 0.5 of raw dgram.
import { createSocket } from 'node:dgram'
import { Worker } from 'node:worker_threads'
import { Supernode } from '../../src/supernode/supernode.js'
import { CountingTap, MAC_A, MAC_B, blast, frame, startBenchEdge, untilDirect } from '../datapath-parts.js'
import type { Command, Reply, Role, WorkerInput } from '../datapath-worker.js'
import { RUNS, summarize, withBaseline, type Figure } from '../measure.js'

const WORKER = new URL('../datapath-worker.js', import.meta.url)
const TARGET_FRAMES = 150_000

interface Measured {
  rates: number[]
  direct: boolean
}

// ---- one thread ----------------------------------------------------------------------------

async function rawOneThread(size: number): Promise<Measured> {
  const rx = createSocket('udp4')
  const tx = createSocket('udp4')
  await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r))
  await new Promise<void>((r) => tx.bind(0, '127.0.0.1', r))
  let got = 0
  rx.on('message', () => void got++)
  const payload = Buffer.alloc(size + 44)
  const port = rx.address().port
  const rates: number[] = []
  for (let run = 0; run < RUNS; run++) {
    const before = got
    const seconds = await blast(() => tx.getSendQueueCount() < 512 && tx.send(payload, port, '127.0.0.1'))
    rates.push((got - before) / seconds)
  }
  rx.close()
  tx.close()
  return { rates, direct: true }
}

async function overlayOneThread(size: number): Promise<Measured> {
  const sn = await Supernode.start({ port: 0, bindAddress: '127.0.0.1', mgmt: null })
  const tapA = new CountingTap('a', MAC_A)
  const tapB = new CountingTap('b', MAC_B)
  const a = await startBenchEdge(sn.port, tapA, '10.9.0.1')
  const b = await startBenchEdge(sn.port, tapB, '10.9.0.2')
  const f = frame(MAC_B, MAC_A, size)
  const direct = await untilDirect(a, tapA, () => b.edgeId, f)
  const rates: number[] = []
  for (let run = 0; run < RUNS; run++) {
    const before = tapB.received
    const seconds = await blast(() => tapA.receiver!(f))
    rates.push((tapB.received - before) / seconds)
  }
  await a.stop()
  await b.stop()
  await sn.stop()
  return { rates, direct }
}

// ---- a thread per side ---------------------------------------------------------------------

class Side {
  private readonly worker: Worker
  private readonly replies: Reply[] = []
  private waiting: ((reply: Reply) => void) | null = null

  constructor(role: Role, size: number, supernodePort: number) {
    this.worker = new Worker(WORKER, { workerData: { role, size, supernodePort } satisfies WorkerInput })
    this.worker.on('message', (reply: Reply) => {
      if (this.waiting) {
        const resolve = this.waiting
        this.waiting = null
        resolve(reply)
      } else this.replies.push(reply)
    })
    this.worker.on('error', (err) => {
      throw err
    })
  }

  next(): Promise<Reply> {
    const queued = this.replies.shift()
    return queued ? Promise.resolve(queued) : new Promise((resolve) => (this.waiting = resolve))
  }

  async ask(command: Command): Promise<Reply> {
    this.worker.postMessage(command)
    return this.next()
  }

  async count(): Promise<number> {
    const reply = await this.ask({ type: 'count' })
    return reply.type === 'count' ? reply.count : NaN
  }

  async stop(): Promise<void> {
    await this.ask({ type: 'stop' })
    await this.worker.terminate()
  }
}

async function twoThreads(kind: 'raw' | 'edge', size: number): Promise<Measured> {
  const sn = kind === 'edge' ? await Supernode.start({ port: 0, bindAddress: '127.0.0.1', mgmt: null }) : null
  const rx = new Side(`rx-${kind}`, size, sn?.port ?? 0)
  const ready = await rx.next()
  const tx = new Side(`tx-${kind}`, size, sn?.port ?? 0)
  await tx.next()
  let direct = true
  if (kind === 'edge' && ready.type === 'ready') {
    const reply = await tx.ask({ type: 'connect', peerId: ready.edgeId! })
    direct = reply.type === 'direct' && reply.direct
  }
  const rates: number[] = []
  for (let run = 0; run < RUNS; run++) {
    const before = await rx.count()
    const done = await tx.ask({ type: 'blast', port: ready.type === 'ready' ? ready.port : undefined })
    const after = await rx.count()
    if (done.type === 'blasted') rates.push((after - before) / done.seconds)
  }
  await tx.stop()
  await rx.stop()
  await sn?.stop()
  return { rates, direct }
}

// ---- figures -------------------------------------------------------------------------------

function figuresFor(size: number, where: string, raw: Measured, overlay: Measured, judged: boolean): Figure[] {
  const rawFigure = summarize(`raw dgram ${size} B one way, ${where}`, 'frames/s', raw.rates)
  const target = judged && size === 1400 ? { ratio: 0.5 } : undefined
  const note = overlay.direct ? {} : { note: 'the path was not direct' }
  const fig = withBaseline(summarize(`overlay ${size} B one way (direct), ${where}`, 'frames/s', overlay.rates, note), rawFigure, target)
  const figures = [rawFigure, fig, summarize(`overlay ${size} B one way, ${where}`, 'Mbit/s', overlay.rates.map((r) => (r * size * 8) / 1e6))]
  if (judged && size === 1400) {
    figures.push({ ...summarize(`overlay ${size} B frames/s vs 150,000, ${where}`, 'frames/s', overlay.rates), target: '≥ 150,000 frames/s', met: fig.median >= TARGET_FRAMES })
  }
  return figures
}

export async function datapathSection(): Promise<Figure[]> {
  const figures: Figure[] = []
  for (const size of [1400, 64]) {
    figures.push(...figuresFor(size, 'one thread', await rawOneThread(size), await overlayOneThread(size), false))
    figures.push(...figuresFor(size, 'a thread per side', await twoThreads('raw', size), await twoThreads('edge', size), true))
  }
  return figures
}
