// The batched UDP socket (src/native/udp.c + BatchUdpTransport) on loopback: what goes in comes
// out whole and in order, a batch at a time; sources are named as node:dgram names them; datagrams
// too large, unreachable or sent after close are counted or refused without harming the others.
import { createSocket } from 'node:dgram'
import t from 'tap'
import { BatchUdpTransport, loadUdpAddon } from '../../src/net/batch-udp-transport.js'
import { MAX_PACKET_BYTES } from '../../src/wire/index.js'

const native = loadUdpAddon()
if (native === null) throw new Error('the UDP addon is not built: run npm ci')
const addon = native

function open(address: string, gro = false): BatchUdpTransport {
  const socket = BatchUdpTransport.bind(addon, { address, port: 0, gro })
  t.teardown(() => socket.close())
  return socket
}

interface Arrival {
  bytes: Buffer
  address: string
  port: number
}

function collect(socket: BatchUdpTransport, want: number): Promise<Arrival[]> {
  const got: Arrival[] = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${want} datagrams arrived`)), 5_000)
    socket.onDatagram((msg, address, port) => {
      got.push({ bytes: Buffer.from(msg), address, port }) // the view is valid only during the call
      if (got.length === want) {
        clearTimeout(timer)
        resolve(got)
      }
    })
  })
}

function datagram(i: number): Buffer {
  const bytes = Buffer.alloc(20 + ((i * 37) % 1400))
  bytes.writeUInt32BE(i, 0)
  bytes.fill(i & 0xff, 4)
  return bytes
}

t.test('2,000 datagrams sent in one burst arrive whole, in order, 64 to a receive call', async (t) => {
  const a = open('127.0.0.1')
  const b = open('127.0.0.1')
  const arrivals = collect(b, 2_000)
  for (let i = 0; i < 2_000; i++) {
    const bytes = datagram(i)
    a.send(bytes, 0, bytes.length, b.local().port, '127.0.0.1')
  }
  const got = await arrivals
  t.same(got.map((g) => g.bytes.readUInt32BE(0)), Array.from({ length: 2_000 }, (_, i) => i), 'in order, none lost')
  t.ok(got.every((g, i) => g.bytes.equals(datagram(i))), 'every byte as sent')
  t.ok(got.every((g) => g.address === '127.0.0.1' && g.port === a.local().port), 'source named as dgram names it')
  t.equal(b.stats().largestBatch, 64, 'a full batch per receive call')
  t.equal(a.stats().ringFull, 0, 'the ring went to the kernel when it filled, nothing dropped')
  t.equal(a.stats().gso, true, 'runs went down as one (UDP GSO) and the kernel took them')
})

t.test('runs of equal datagrams to one peer (UDP GSO) arrive as the datagrams they were', async (t) => {
  const a = open('::')
  const b = open('127.0.0.1')
  const c = open('::1')
  const atB = collect(b, 300)
  const atC = collect(c, 100)
  const sizes: number[] = []
  for (let i = 0; i < 300; i++) {
    // runs of 1,444-byte datagrams, a shorter one now and then, a datagram to another peer between
    const bytes = Buffer.alloc(i % 50 === 49 ? 100 : 1444, i & 0xff)
    bytes.writeUInt32BE(i, 0)
    sizes.push(bytes.length)
    a.send(bytes, 0, bytes.length, b.local().port, '127.0.0.1')
    if (i % 3 === 0) a.send(bytes, 0, 64, c.local().port, '::1')
  }
  const got = await atB
  t.same(got.map((g) => g.bytes.length), sizes, 'each datagram its own size, in order')
  t.ok(got.every((g, i) => g.bytes.readUInt32BE(0) === i && g.bytes[100 - 1] === (i & 0xff)), 'each with its own bytes')
  t.equal((await atC).length, 100, 'the other peer got its own')
  t.equal(a.stats().gso, true)
})

t.test('a socket with UDP GRO gets runs as one message from the kernel and hands them up as the datagrams they were, 64 to a call', async (t) => {
  const a = open('127.0.0.1')
  const other = open('127.0.0.1')
  const b = open('127.0.0.1', true)
  t.equal(b.stats().gro, true, 'the kernel has UDP GRO')
  const want = 600
  const arrivals = collect(b, want + 100)
  const sizes: number[] = []
  for (let i = 0; i < want; i++) {
    // runs of 1,444-byte datagrams (each run one GSO send, one GRO message), a shorter one ending a run now and then
    const bytes = Buffer.alloc(i % 70 === 69 ? 300 : 1444, i & 0xff)
    bytes.writeUInt32BE(i, 0)
    sizes.push(bytes.length)
    a.send(bytes, 0, bytes.length, b.local().port, '127.0.0.1')
    if (i % 6 === 0) other.send(Buffer.from(`other ${i}`), 0, `other ${i}`.length, b.local().port, '127.0.0.1')
  }
  const got = await arrivals
  const fromA = got.filter((g) => g.port === a.local().port)
  const fromOther = got.filter((g) => g.port === other.local().port)
  t.same(fromA.map((g) => g.bytes.length), sizes, 'each datagram its own size, in order')
  t.ok(fromA.every((g, i) => g.bytes.readUInt32BE(0) === i && g.bytes.at(-1) === (i & 0xff)), 'each with its own bytes')
  t.same(fromOther.map((g) => g.bytes.toString()), Array.from({ length: 100 }, (_, i) => `other ${i * 6}`), "the other source's own, in order, named as theirs")
  t.ok(b.stats().groRuns > 0, `the kernel handed up runs (${b.stats().groRuns} messages of more than one datagram)`)
  t.ok(b.stats().largestBatch <= 64, `at most 64 datagrams to a call (${b.stats().largestBatch})`)
  t.equal(b.stats().truncated, 0)
})

t.test('a socket with UDP GRO: a datagram larger than a slot is cut and counted, the next ones are whole', async (t) => {
  const b = open('127.0.0.1', true)
  const arrivals = collect(b, 2)
  const big = createSocket('udp4')
  t.teardown(() => big.close())
  await new Promise<void>((resolve) => big.send(Buffer.alloc(MAX_PACKET_BYTES + 2000, 1), b.local().port, '127.0.0.1', () => resolve()))
  await new Promise<void>((resolve) => big.send(Buffer.from('after'), b.local().port, '127.0.0.1', () => resolve()))
  const got = await arrivals
  t.ok(got[0]!.bytes.length > MAX_PACKET_BYTES && got[0]!.bytes.length < MAX_PACKET_BYTES + 2000, `cut to its slot (${got[0]!.bytes.length} bytes): the codec refuses it as oversized`)
  t.equal(got[1]!.bytes.toString(), 'after')
  t.equal(b.stats().truncated, 1, 'counted')
})

t.test('a dual-stack socket names IPv4 sources without ::ffff: and answers them, and speaks IPv6', async (t) => {
  const dual = open('::')
  const v4 = open('127.0.0.1')
  const v6 = open('::1')
  const atDual = collect(dual, 2)
  v4.send(Buffer.from('four'), 0, 4, dual.local().port, '127.0.0.1')
  v6.send(Buffer.from('six'), 0, 3, dual.local().port, '::1')
  const got = await atDual
  t.same(got.map((g) => [g.bytes.toString(), g.address]).sort(), [['four', '127.0.0.1'], ['six', '::1']])
  const back4 = collect(v4, 1)
  const back6 = collect(v6, 1)
  dual.send(Buffer.from('back4'), 0, 5, v4.local().port, '127.0.0.1')
  dual.send(Buffer.from('back6'), 0, 5, v6.local().port, '::1')
  t.equal((await back4)[0]!.bytes.toString(), 'back4')
  t.equal((await back6)[0]!.bytes.toString(), 'back6')
})

t.test('a datagram with its own TTL goes out and leaves the following ones alone', async (t) => {
  const a = open('127.0.0.1')
  const b = open('127.0.0.1')
  const arrivals = collect(b, 3)
  a.send(Buffer.from('one'), 0, 3, b.local().port, '127.0.0.1')
  a.sendWithTtl(Buffer.from('two'), 0, 3, b.local().port, '127.0.0.1', 2)
  a.send(Buffer.from('three'), 0, 5, b.local().port, '127.0.0.1')
  t.same((await arrivals).map((g) => g.bytes.toString()), ['one', 'two', 'three'])
})

t.test('too large, unreachable and after-close datagrams are counted or refused; the rest flow', async (t) => {
  const a = open('127.0.0.1')
  const b = open('127.0.0.1')
  const arrivals = collect(b, 3)
  const big = createSocket('udp4')
  await new Promise<void>((resolve) => big.bind(0, '127.0.0.1', resolve))
  t.teardown(() => big.close())
  await new Promise<void>((resolve, reject) => big.send(Buffer.alloc(3_000), b.local().port, '127.0.0.1', (err) => (err ? reject(err) : resolve())))
  a.send(Buffer.from('x'), 0, 1, 0, '127.0.0.1') // port 0: the kernel refuses it
  a.send(Buffer.from('fine'), 0, 4, b.local().port, '127.0.0.1')
  a.send(Buffer.from('x'), 0, 1, b.local().port, '::1') // an IPv4 socket cannot reach it: not sent
  a.send(Buffer.from('also'), 0, 4, b.local().port, '127.0.0.1')
  const got = await arrivals
  t.same(got.slice(1).map((g) => g.bytes.toString()), ['fine', 'also'])
  t.ok(got[0]!.bytes.length > MAX_PACKET_BYTES && got[0]!.bytes.length < 3_000, 'the 3,000-byte datagram arrives cut, still too large for the codec')
  t.equal(b.stats().truncated, 1, 'and is counted')
  t.equal(a.stats().sendErrors, 1, 'the refused send was counted')
  await a.flush()
  await a.close()
  await a.close()
  a.send(Buffer.from('late'), 0, 4, b.local().port, '127.0.0.1')
  await a.flush()
  t.pass('sends and flushes after close are harmless')
})
