// Property of the TAP's receive coalescing (src/tap/tcp-coalescer.ts): whatever the network did
// to two TCP flows (segments lost, swapped, sent again with new timestamps and IDs, damaged,
// pushed, options changed mid-flow, turns of the event loop ending anywhere), the bytes a host
// puts back together from what the coalescer writes are exactly those it puts together from the
// same frames written one by one. The host is modelled as Linux treats a TAP write: a frame alone
// is checked (IPv4 header and TCP checksums) and dropped when wrong; a merged run has its IPv4
// header checked but its TCP checksum left to the "device", so it is trusted as it is.
import fc from 'fast-check'
import { TcpCoalescer } from '../../src/tap/tcp-coalescer.js'
import { checksumsHold, internetChecksum, tcpPayloadOf, tcpSegment } from '../fixtures/tcp-frames.js'

const PORTS = [40000, 40001]
const MAX_STREAM_BYTES = 6000

/** One transmission of part of a flow, as the sender made it and the network changed it. */
interface Sent {
  flow: number
  /** offset of the payload in the flow's stream */
  offset: number
  length: number
  push: boolean
  timestamp: number
  ipId: number
  /** a byte (from the IPv4 header on) flipped on the way, with this value */
  damage: { at: number; xor: number } | null
}

interface Flow {
  isn: number
  stream: Buffer
  mss: number
  dontFragment: boolean
}

const flowArb = fc
  .record({
    isn: fc.integer({ min: 0, max: 0xffffffff }),
    length: fc.integer({ min: 1, max: MAX_STREAM_BYTES }),
    // small segment sizes give runs long enough to reach the 64-segment limit
    mss: fc.oneof(fc.integer({ min: 1, max: 90 }), fc.integer({ min: 91, max: 1460 })),
    dontFragment: fc.boolean(),
    seed: fc.integer({ min: 0, max: 255 }),
  })
  .map(({ isn, length, mss, dontFragment, seed }): Flow => ({ isn, mss, dontFragment, stream: Buffer.from(Array.from({ length }, (_, i) => (i * 131 + seed + (i >> 8)) & 0xff)) }))

const edits = fc.record({
  /** which flow each of the first transmissions comes from (the rest: flow 0 then flow 1) */
  interleave: fc.array(fc.integer({ min: 0, max: 1 }), { maxLength: 200 }),
  retransmit: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 8 }),
  push: fc.array(fc.nat(), { maxLength: 4 }),
  newTimestamp: fc.array(fc.nat(), { maxLength: 3 }),
  drop: fc.array(fc.nat(), { maxLength: 8 }),
  swap: fc.array(fc.nat(), { maxLength: 12 }),
  damage: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }),
  flushAfter: fc.array(fc.nat(), { maxLength: 10 }),
})

/** Totals over every case run, so that the test can show the property was not met vacuously. */
export const coalescerPropertyTotals = { cases: 0, mergedRuns: 0, badChecksums: 0, bytesCompared: 0 }

/** The transmissions, in the order they reach the receiving edge. */
function transmissions(flows: Flow[], e: EditsValue): Sent[] {
  const queues = flows.map((flow, f) => {
    const q: Sent[] = []
    for (let offset = 0; offset < flow.stream.length; offset += flow.mss) {
      q.push({ flow: f, offset, length: Math.min(flow.mss, flow.stream.length - offset), push: false, timestamp: 1, ipId: 0, damage: null })
    }
    return q
  })
  let list: Sent[] = []
  for (const f of e.interleave) if (queues[f]!.length > 0) list.push(queues[f]!.shift()!)
  list.push(...queues[0]!, ...queues[1]!)
  const pick = (n: number): number => n % list.length
  // the sender: retransmissions (later, with a newer timestamp), pushes, a timestamp that moves on
  for (const [which, later] of e.retransmit) {
    const original = list[pick(which)]!
    list.splice(pick(which) + 1 + (later % (list.length - pick(which))), 0, { ...original, timestamp: original.timestamp + 1 })
  }
  for (const which of e.push) list[pick(which)]!.push = true
  for (const from of e.newTimestamp) for (let i = pick(from); i < list.length; i++) list[i]!.timestamp++
  const nextId = [0x1234, 0xfff0]
  for (const s of list) s.ipId = nextId[s.flow]!++ & 0xffff
  // the network: losses, reordering, damage
  for (const which of e.drop) if (list.length > 1) list = list.filter((_, i) => i !== pick(which))
  for (const which of e.swap) {
    const i = pick(which)
    const j = (i + 1) % list.length
    ;[list[i], list[j]] = [list[j]!, list[i]!]
  }
  for (const [which, at, xor] of e.damage) list[pick(which)]!.damage = { at, xor }
  return list
}
type EditsValue = typeof edits extends fc.Arbitrary<infer T> ? T : never

function frameOf(s: Sent, flow: Flow): Buffer {
  const frame = tcpSegment({
    seq: (flow.isn + s.offset) >>> 0,
    payload: flow.stream.subarray(s.offset, s.offset + s.length),
    srcPort: PORTS[s.flow],
    flags: 0x10 | (s.push ? 0x08 : 0),
    timestamp: s.timestamp,
    ipId: s.ipId,
    dontFragment: flow.dontFragment,
  })
  if (s.damage !== null) frame[14 + (s.damage.at % (frame.length - 14))]! ^= s.damage.xor
  return frame
}

/** What the host's TCP puts together for each flow; conflicting bytes for one place are a failure. */
class Host {
  private readonly have: Uint8Array[]
  private readonly data: Uint8Array[]
  conflict = false

  constructor(private readonly flows: Flow[]) {
    this.have = flows.map((f) => new Uint8Array(f.stream.length))
    this.data = flows.map((f) => new Uint8Array(f.stream.length))
  }

  /** A frame written alone: the host checks it. */
  alone(frame: Buffer): void {
    if (isTcpOfOurs(frame) && checksumsHold(frame)) this.take(frame)
  }

  /** A merged run: the IPv4 header is checked, the TCP checksum is the "device's" word. */
  merged(frame: Buffer): void {
    if (isTcpOfOurs(frame) && internetChecksum(frame.subarray(14, 34)) === 0) this.take(frame)
  }

  /** Each flow's bytes from its start up to the first gap. */
  streams(): Buffer[] {
    return this.flows.map((_, f) => {
      const end = this.have[f]!.indexOf(0)
      return Buffer.from(this.data[f]!.subarray(0, end === -1 ? this.have[f]!.length : end))
    })
  }

  private take(frame: Buffer): void {
    const f = PORTS.indexOf(frame.readUInt16BE(34))
    if (f === -1) return
    const start = (frame.readUInt32BE(38) - this.flows[f]!.isn) >>> 0
    const payload = tcpPayloadOf(frame)
    for (let i = 0; i < payload.length; i++) {
      const at = start + i
      if (at >= this.have[f]!.length) continue // beyond the stream: no sender sent it
      if (this.have[f]![at] === 1 && this.data[f]![at] !== payload[i]) this.conflict = true
      this.have[f]![at] = 1
      this.data[f]![at] = payload[i]!
    }
  }
}

/** A frame the host would hand to TCP at all: IPv4, TCP, lengths in range (damage may break them). */
function isTcpOfOurs(frame: Buffer): boolean {
  if (frame.length < 54 || frame.readUInt16BE(12) !== 0x0800 || frame[14] !== 0x45 || frame[23] !== 6) return false
  const ipEnd = 14 + frame.readUInt16BE(16)
  const headers = 34 + (frame[46]! >> 4) * 4
  return ipEnd <= frame.length && headers >= 54 && headers <= ipEnd && (frame.readUInt16BE(20) & 0x3fff) === 0
}

export const coalescerProperty = fc.property(fc.tuple(flowArb, flowArb), edits, ([a, b], e) => {
  const flows = [a, b]
  const sent = transmissions(flows, e)
  const frames = sent.map((s) => frameOf(s, flows[s.flow]!))
  const flushes = new Set(e.flushAfter.map((n) => n % frames.length))

  const oneByOne = new Host(flows)
  for (const frame of frames) oneByOne.alone(frame)

  const coalesced = new Host(flows)
  const coalescer = new TcpCoalescer({
    writeFrame: (frame) => (coalesced.alone(Buffer.from(frame)), true),
    writeRun: (frame) => (coalesced.merged(Buffer.from(frame)), true),
  })
  frames.forEach((frame, i) => {
    coalescer.write(frame)
    if (flushes.has(i)) coalescer.flush()
  })
  coalescer.flush()

  const expected = oneByOne.streams()
  const got = coalesced.streams()
  coalescerPropertyTotals.cases++
  coalescerPropertyTotals.mergedRuns += coalescer.merged
  coalescerPropertyTotals.badChecksums += coalescer.badChecksums
  coalescerPropertyTotals.bytesCompared += expected[0]!.length + expected[1]!.length
  return (
    !coalesced.conflict &&
    !oneByOne.conflict &&
    got.every((stream, f) => stream.equals(expected[f]!)) &&
    // and what either host put together is the flow's own bytes
    expected.every((stream, f) => stream.equals(flows[f]!.stream.subarray(0, stream.length)))
  )
})
