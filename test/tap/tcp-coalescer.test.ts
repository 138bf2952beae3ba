// Receive coalescing (src/tap/tcp-coalescer.ts) without a kernel: runs of one TCP flow become one
// frame whose payload is the segments' payloads in order, with true IPv4 headers and the
// pseudo-header sum where a device-computed checksum starts; anything that does not continue the
// run (another flow, a gap, a flag, a shorter segment before) goes through as it was, in order.
// A segment whose IPv4 or TCP checksum is wrong never joins a run: it goes alone, for the host to
// check and drop (a merged run is trusted by the host, as GRO's output is).
import t from 'tap'
import { TcpCoalescer, type CoalescedSink } from '../../src/tap/tcp-coalescer.js'
import { checksumsHold, tcpSegment as segment } from '../fixtures/tcp-frames.js'

interface Written {
  frame: Buffer
  segmentBytes: number
}

function sink(): CoalescedSink & { written: Written[] } {
  const written: Written[] = []
  return {
    written,
    writeFrame: (frame) => written.push({ frame: Buffer.from(frame), segmentBytes: 0 }) > 0,
    writeRun: (frame, segmentBytes) => written.push({ frame: Buffer.from(frame), segmentBytes }) > 0,
  }
}

function ipChecksumValid(frame: Buffer): boolean {
  let sum = 0
  for (let i = 14; i < 34; i += 2) sum += frame.readUInt16BE(i)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return sum === 0xffff
}

const payloadOf = (frame: Buffer): Buffer => frame.subarray(14 + 20 + 32)
/** what was written, frame by frame: sequence number, payload length, GRO segment size (0: alone) */
const shapeOf = (written: Written[]): number[][] => written.map((w) => [w.frame.readUInt32BE(38), payloadOf(w.frame).length, w.segmentBytes])
const bytes = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff))

t.test('a run of one flow becomes one frame: payloads in order, IPv4 headers true, GRO segment size', (t) => {
  const out = sink()
  const c = new TcpCoalescer(out)
  const payloads = [bytes(1000, 1), bytes(1000, 2), bytes(1000, 3), bytes(400, 4)]
  let seq = 0xfffffc00 // the run wraps the 32-bit sequence space
  for (const p of payloads) {
    t.equal(c.write(segment({ seq, payload: p })), true)
    seq = (seq + p.length) >>> 0
  }
  t.equal(out.written.length, 0, 'held until the turn is over')
  c.flush()
  t.equal(out.written.length, 1)
  const merged = out.written[0]!
  t.equal(merged.segmentBytes, 1000, 'segment size: the first segment payload')
  t.same(payloadOf(merged.frame), Buffer.concat(payloads), 'payloads in order')
  t.equal(merged.frame.readUInt16BE(16), 20 + 32 + 3400, 'IPv4 total length of the merged packet')
  t.ok(ipChecksumValid(merged.frame), 'IPv4 header checksum recomputed')
  // pseudo-header: 10.9.0.1 + 10.9.0.2 + protocol 6 + TCP length 3432, folded
  const pseudo = 0x0a09 + 0x0001 + 0x0a09 + 0x0002 + 6 + 3432
  t.equal(merged.frame.readUInt16BE(50), pseudo, 'TCP checksum field holds the pseudo-header sum')
  t.equal(merged.frame.readUInt32BE(38), 0xfffffc00, 'sequence number of the first segment')
  t.end()
})

t.test('what does not continue the run goes through in order, and starts a run of its own', (t) => {
  const out = sink()
  const c = new TcpCoalescer(out)
  const p = bytes(500, 9)
  c.write(segment({ seq: 0, payload: p }))
  c.write(segment({ seq: 500, payload: p }))
  c.write(segment({ seq: 2000, payload: p })) // a gap: a new run
  c.write(segment({ seq: 2500, payload: p, srcPort: 40001 })) // another flow
  c.write(segment({ seq: 3000, payload: p, srcPort: 40001, timestamp: 2 })) // options changed
  c.write(segment({ seq: 3500, payload: p, srcPort: 40001, timestamp: 2, flags: 0x18 })) // PSH ends the run
  c.write(segment({ seq: 4000, payload: p, srcPort: 40001, timestamp: 2 }))
  c.write(segment({ seq: 4500, payload: Buffer.alloc(0), srcPort: 40001, timestamp: 2 })) // a bare ACK
  c.write(segment({ seq: 4500, payload: p, srcPort: 40001, timestamp: 2, flags: 0x11 })) // FIN
  c.flush()
  t.same(shapeOf(out.written), [
    [0, 1000, 500],
    [2000, 500, 0],
    [2500, 500, 0],
    [3000, 1000, 500],
    [4000, 500, 0],
    [4500, 0, 0],
    [4500, 500, 0],
  ])
  t.equal(out.written[3]!.frame[47], 0x18, 'the merged run keeps the PSH of its last segment')
  t.end()
})

t.test('non-TCP frames and a refused run are passed or counted, never held', (t) => {
  const refusing: CoalescedSink = { writeFrame: () => false, writeRun: () => false }
  const c = new TcpCoalescer(refusing)
  const arp = Buffer.alloc(42)
  arp.writeUInt16BE(0x0806, 12)
  t.equal(c.write(arp), false, 'an ARP frame goes straight through (and was refused)')
  t.equal(c.holding, false)
  c.write(segment({ seq: 0, payload: bytes(100, 1) }))
  c.write(segment({ seq: 100, payload: bytes(100, 2) }))
  c.flush()
  t.equal(c.refused, 2, 'both frames of the refused run are counted')
  t.end()
})

/** Where a flipped byte goes: only the checksum it breaks can tell (the headers still match the run). */
const DAMAGE = [
  { what: 'a payload byte (TCP checksum)', at: (f: Buffer) => f.length - 3 },
  { what: 'the TCP checksum field', at: () => 50 },
  { what: 'the IPv4 identification (IPv4 header checksum, DF set)', at: () => 19 },
  { what: 'the IPv4 header checksum field', at: () => 24 },
]

t.test('a segment with a wrong checksum is never merged: first, middle or last of a run, it goes alone as it came', (t) => {
  const payloads = [0, 1, 2, 3, 4].map((i) => bytes(600, 10 + i))
  for (const damage of DAMAGE) {
    for (const [where, bad] of [['first', 0], ['middle', 2], ['last', 4]] as const) {
      const out = sink()
      const c = new TcpCoalescer(out)
      const frames = payloads.map((p, i) => segment({ seq: 1000 + i * 600, payload: p }))
      frames[bad]![damage.at(frames[bad]!)]! ^= 0x5a
      t.notOk(checksumsHold(frames[bad]!), `${damage.what}: the damaged frame fails the host's check`)
      for (const f of frames) c.write(f)
      c.flush()

      const label = `${damage.what}, ${where} segment`
      const alone = out.written.filter((w) => w.frame.equals(frames[bad]!))
      t.equal(alone.length, 1, `${label}: written once, byte for byte as it came`)
      t.equal(alone[0]?.segmentBytes, 0, `${label}: as a frame of its own, not a merged run`)
      t.equal(c.badChecksums, 1, `${label}: counted`)
      // the rest still merge around it, in order, and carry exactly the good segments' bytes
      const runs = out.written.filter((w) => w.segmentBytes > 0)
      const expectedRuns = where === 'middle' ? 2 : 1
      t.equal(runs.length, expectedRuns, `${label}: the good segments on either side still merge (${expectedRuns} run(s))`)
      const order = out.written.map((w) => w.frame.readUInt32BE(38))
      t.same(order, [...order].sort((a, b) => a - b), `${label}: written in sequence order`)
      const good = payloads.filter((_, i) => i !== bad)
      const carried = out.written.filter((w) => !w.frame.equals(frames[bad]!)).map((w) => payloadOf(w.frame))
      t.same(Buffer.concat(carried), Buffer.concat(good), `${label}: the other segments' payloads, in order, nothing else`)
    }
  }
  t.end()
})

t.test('without DF, segments merge only with consecutive IPv4 identifications, as GRO requires', (t) => {
  const out = sink()
  const c = new TcpCoalescer(out)
  const p = bytes(300, 3)
  c.write(segment({ seq: 0, payload: p, dontFragment: false, ipId: 0xfffe }))
  c.write(segment({ seq: 300, payload: p, dontFragment: false, ipId: 0xffff }))
  c.write(segment({ seq: 600, payload: p, dontFragment: false, ipId: 0 })) // wraps: still consecutive
  c.write(segment({ seq: 900, payload: p, dontFragment: false, ipId: 5 })) // a jump: a new run
  c.write(segment({ seq: 1200, payload: p, dontFragment: false, ipId: 6 }))
  c.write(segment({ seq: 1500, payload: p, dontFragment: true, ipId: 900 })) // DF set: IDs mean nothing, but DF differs from the run
  c.write(segment({ seq: 1800, payload: p, dontFragment: true, ipId: 17 })) // DF on both: merged whatever the ID
  c.flush()
  t.same(shapeOf(out.written), [
    [0, 900, 300],
    [900, 600, 300],
    [1500, 600, 300],
  ])
  t.equal(c.badChecksums, 0)
  t.end()
})

t.test('a frame as large as IPv4 allows goes through whole, and a run never grows past 64 KB of IPv4', (t) => {
  const out = sink()
  const c = new TcpCoalescer(out)
  // MTU 65,521 (the most a TAP takes): IPv4 total length 65,535
  const huge = segment({ seq: 0, payload: bytes(65_535 - 20 - 32, 1) })
  t.equal(huge.length, 14 + 65_535)
  const second = segment({ seq: 65_483, payload: bytes(65_483, 2) })
  c.write(huge)
  c.write(second)
  c.flush()
  t.equal(out.written.length, 2, 'two frames: they would not fit one IPv4 packet together')
  t.ok(out.written[0]!.frame.equals(huge), 'the first, byte for byte (not cut at a buffer size)')
  t.ok(out.written[1]!.frame.equals(second), 'the second, byte for byte')

  const big = sink()
  const d = new TcpCoalescer(big)
  const p = bytes(30_000, 3)
  for (let i = 0; i < 3; i++) d.write(segment({ seq: i * 30_000, payload: p }))
  d.flush()
  t.same(
    big.written.map((w) => [w.frame.readUInt16BE(16), w.segmentBytes]),
    [
      [20 + 32 + 60_000, 30_000],
      [20 + 32 + 30_000, 0],
    ],
    'two segments of 30,000 merge (60,052 bytes of IPv4); a third would pass 65,535',
  )
  t.end()
})
