// The data path on pair sessions (protocol v2), no root: counting TAP → data path → loopback UDP →
// data path → counting TAP, one way, direct path, each side in a thread of its own (as two edges
// on a 2-core machine run), against raw node:dgram in the same run with the same pacing. The two
// sides are introduced by a stand-in relay (forwards RELAY by edge ID, sends the PEER_INFO), so the
// handshake and the punching are the real ones. Target (issue 12): within 5 % of protocol v1's
// 205,600 frames/s at 1400 B (≥ 195,000). Also: sealing a flooded frame once with the broadcast
// key against sealing it for each peer with its pair session.
import { createSocket } from 'node:dgram'
import { Worker } from 'node:worker_threads'
import { generateAuthority, issueCertificate } from '../../src/crypto/certificate.js'
import { identityFromSeed } from '../../src/crypto/identity.js'
import { BroadcastSender } from '../../src/edge/broadcast-keys.js'
import { PacketType, RelayHeader, encodePeerInfo, endpointOf, readRelayHeader } from '../../src/wire/index.js'
import { Community } from '../../test/fixtures/pair-sessions.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import type { PairCommand, PairReply, PairWorkerInput } from '../pair-datapath-worker.js'
import { MAC_A, MAC_B } from '../datapath-parts.js'
import { RUNS, opsPerSecond, summarize, withBaseline, type Figure } from '../measure.js'

const WORKER = new URL('../pair-datapath-worker.js', import.meta.url)
const V1_FRAMES = 205_600
const TARGET_FRAMES = 195_000

class Side {
  private readonly worker: Worker
  private readonly replies: PairReply[] = []
  private waiting: ((reply: PairReply) => void) | null = null

  constructor(input: PairWorkerInput) {
    this.worker = new Worker(WORKER, { workerData: input })
    this.worker.on('message', (reply: PairReply) => {
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

  next(): Promise<PairReply> {
    const queued = this.replies.shift()
    return queued ? Promise.resolve(queued) : new Promise((resolve) => (this.waiting = resolve))
  }

  async ask(command: PairCommand): Promise<PairReply> {
    this.worker.postMessage(command)
    return this.next()
  }

  async stop(): Promise<void> {
    await this.ask({ type: 'stop' })
    await this.worker.terminate()
  }
}

/** The stand-in relay: RELAY by destination edge ID, and the introduction. */
async function startRelay(): Promise<{ port: number; members: Map<number, number>; send: (buf: Buffer, port: number) => void; close: () => void }> {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  const members = new Map<number, number>()
  const h = new RelayHeader()
  socket.on('message', (msg) => {
    if (readRelayHeader(msg, h) !== null) return
    const to = members.get(h.destId)
    if (to !== undefined) socket.send(msg, to, '127.0.0.1')
  })
  return { port: socket.address().port, members, send: (buf, port) => socket.send(buf, port, '127.0.0.1'), close: () => socket.close() }
}

async function measure(kind: 'raw' | 'overlay', size: number): Promise<{ rates: number[]; direct: boolean; drops: Record<string, number> }> {
  const relay = await startRelay()
  const authority = generateAuthority()
  const now = Math.floor(Date.now() / 1000)
  const member = (seedByte: number, mac: Buffer, ip: string): { seed: Buffer; certificate: Buffer } => {
    const seed = Buffer.alloc(32, seedByte)
    const certificate = issueCertificate(authority, { role: 'member', serial: seedByte, notBefore: now - 60, notAfter: now + 3600, memberKey: identityFromSeed(seed).publicKey, mac, ipv4: { address: ip, prefix: 24 }, ipv6: null, name: '' })
    return { seed, certificate }
  }
  const base = { size, relayPort: relay.port }
  const rx = new Side(kind === 'raw' ? { ...base, role: 'rx-raw' } : { ...base, role: 'rx', ...member(1, MAC_B, '10.9.0.2') })
  const tx = new Side(kind === 'raw' ? { ...base, role: 'tx-raw' } : { ...base, role: 'tx', ...member(2, MAC_A, '10.9.0.1'), peerMac: MAC_B })
  const rxReady = await rx.next()
  const txReady = await tx.next()
  let direct = true
  if (kind === 'overlay' && rxReady.type === 'ready' && txReady.type === 'ready') {
    relay.members.set(rxReady.edgeId, rxReady.port)
    relay.members.set(txReady.edgeId, txReady.port)
    relay.send(encodePeerInfo(PacketType.PeerInfo, endpointOf('127.0.0.1', rxReady.port), Buffer.from(rxReady.announcement)), txReady.port)
    relay.send(encodePeerInfo(PacketType.PunchRequest, endpointOf('127.0.0.1', txReady.port), Buffer.from(txReady.announcement)), rxReady.port)
    const reply = await tx.ask({ type: 'direct', peerId: rxReady.edgeId })
    direct = reply.type === 'direct' && reply.direct
  }
  const rates: number[] = []
  let drops: Record<string, number> = {}
  for (let run = 0; run < RUNS; run++) {
    const before = await rx.ask({ type: 'count' })
    const done = await tx.ask({ type: 'blast', port: rxReady.type === 'ready' ? rxReady.port : undefined })
    const after = await rx.ask({ type: 'count' })
    if (done.type === 'blasted' && before.type === 'count' && after.type === 'count') {
      rates.push((after.count - before.count) / done.seconds)
      drops = after.drops
    }
  }
  await tx.stop()
  await rx.stop()
  relay.close()
  return { rates, direct, drops }
}

/** Floods to `members` peers: sealed once with the broadcast key vs once per peer with each pair session (µs per flood). */
function floodCost(members: number, size: number): { once: number; perPair: number } {
  const frameBytes = Buffer.alloc(size, 0x61)
  const out = Buffer.alloc(2048)
  const keys = new BroadcastSender(0)
  const once = opsPerSecond(() => keys.seal(out, frameBytes))
  const community = new Community(new ManualClock())
  const self = community.add('self')
  const sessions = Array.from({ length: members }, (_, i) => {
    const peer = community.add(`p${i}`)
    community.session(self, peer).initiate()
    community.flush()
    return community.session(self, peer)
  })
  const perPair = opsPerSecond(() => {
    for (const s of sessions) s.seal(out, frameBytes)
  })
  keys.destroy()
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  return { once: 1e6 / median(once), perPair: 1e6 / median(perPair) }
}

export async function pairDatapathSection(): Promise<Figure[]> {
  const figures: Figure[] = []
  for (const size of [1400, 64]) {
    const raw = await measure('raw', size)
    const overlay = await measure('overlay', size)
    const rawFigure = summarize(`raw dgram ${size} B one way, a thread per side`, 'frames/s', raw.rates)
    const note = overlay.direct ? (Object.keys(overlay.drops).length > 0 ? { note: `drops ${JSON.stringify(overlay.drops)}` } : {}) : { note: 'the path was not direct' }
    figures.push(rawFigure, withBaseline(summarize(`v2 pair sessions ${size} B one way (direct), a thread per side`, 'frames/s', overlay.rates, note), rawFigure))
    if (size === 1400) {
      const fig = summarize(`v2 ${size} B frames/s vs v1's ${V1_FRAMES.toLocaleString('en-US')} (within 5 %)`, 'frames/s', overlay.rates)
      figures.push({ ...fig, target: `≥ ${TARGET_FRAMES.toLocaleString('en-US')} frames/s`, met: fig.median >= TARGET_FRAMES })
    }
  }
  for (const members of [3, 10, 100]) {
    for (const size of [60, 1400]) {
      const cost = floodCost(members, size)
      figures.push(summarize(`flood ${size} B to ${members} peers: sealed once (broadcast key) vs per pair`, 'µs per flood', [cost.once], { note: `per pair: ${cost.perPair.toFixed(1)} µs (${(cost.perPair / cost.once).toFixed(1)} ×), and ${members} datagrams from the edge instead of 1` }))
    }
  }
  return figures
}
