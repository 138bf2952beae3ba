// Receive coalescing (src/tap/tcp-coalescer.ts) without a kernel: runs of one TCP flow become one
// frame whose payload is the segments' payloads in order, with true IPv4 headers and the
// pseudo-header sum where a device-computed checksum starts; anything that does not continue the
// run (another flow, a gap, a flag, a shorter segment before) goes through as it was, in order.
import t from 'tap'
import { TcpCoalescer, type CoalescedSink } from '../../src/tap/tcp-coalescer.js'

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

interface SegmentOptions {
  seq: number
  payload: Buffer
  srcPort?: number
  flags?: number
  ack?: number
  timestamp?: number
}

/** Ethernet + IPv4 (no options) + TCP with a 12-byte timestamp option. */
function segment({ seq, payload, srcPort = 40000, flags = 0x10, ack = 7, timestamp = 1 }: SegmentOptions): Buffer {
  const tcpHeader = 32
  const f = Buffer.alloc(14 + 20 + tcpHeader + payload.length)
  Buffer.from('020000000002020000000001', 'hex').copy(f, 0)
  f.writeUInt16BE(0x0800, 12)
  f[14] = 0x45
  f.writeUInt16BE(20 + tcpHeader + payload.length, 16)
  f.writeUInt16BE(seq & 0xffff, 18) // IP ID differs per segment
  f.writeUInt16BE(0x4000, 20) // DF
  f[22] = 64
  f[23] = 6
  Buffer.from([10, 9, 0, 1, 10, 9, 0, 2]).copy(f, 26)
  f.writeUInt16BE(srcPort, 34)
  f.writeUInt16BE(5201, 36)
  f.writeUInt32BE(seq >>> 0, 38)
  f.writeUInt32BE(ack, 42)
  f[46] = (tcpHeader / 4) << 4
  f[47] = flags
  f.writeUInt16BE(502, 48)
  f.set([1, 1, 8, 10], 54)
  f.writeUInt32BE(timestamp, 58)
  payload.copy(f, 14 + 20 + tcpHeader)
  return f
}

function ipChecksumValid(frame: Buffer): boolean {
  let sum = 0
  for (let i = 14; i < 34; i += 2) sum += frame.readUInt16BE(i)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return sum === 0xffff
}

const payloadOf = (frame: Buffer): Buffer => frame.subarray(14 + 20 + 32)
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
  const shape = out.written.map((w) => [w.frame.readUInt32BE(38), payloadOf(w.frame).length, w.segmentBytes])
  t.same(shape, [
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
