// The two codecs of userspace streams: stream messages (from a peer, untrusted) and SOCKS5 (from
// local programs, untrusted all the same). Every message round-trips; every byte string decodes
// to a message or a named reason (never a throw), and a decoded message re-encodes to its bytes.
import fc from 'fast-check'
import t from 'tap'
import { readSocksGreeting, readSocksRequest } from '../../src/wire/socks5.js'
import { MAX_STREAM_DATA, SCTP_PACKET_REASONS, STREAM_CODEC_REASONS, checkSctpPacket, STREAM_REFUSALS, StreamMessageType, decodeStreamMessage, encodeStreamMessage, isSctpInit, type StreamMessage } from '../../src/wire/stream.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000)

t.test('every stream message round-trips', (t) => {
  const messages: StreamMessage[] = [
    { type: StreamMessageType.Open, port: 22 },
    { type: StreamMessageType.Open, port: 65535 },
    { type: StreamMessageType.Accept },
    ...STREAM_REFUSALS.map((reason) => ({ type: StreamMessageType.Refuse, reason }) as const),
    { type: StreamMessageType.Reset, reason: 'closed' },
    { type: StreamMessageType.Data, data: Buffer.from('x') },
    { type: StreamMessageType.Data, data: Buffer.alloc(MAX_STREAM_DATA, 7) },
    { type: StreamMessageType.Window, credit: 0xffffffff },
    { type: StreamMessageType.End },
  ]
  for (const m of messages) {
    const decoded = decodeStreamMessage(encodeStreamMessage(m))
    t.ok(decoded.ok, `type ${m.type} decodes`)
    if (decoded.ok) t.same(decoded.value, m)
  }
  t.end()
})

t.test('bad stream messages are refused by name', (t) => {
  const cases: [number[], string][] = [
    [[], 'truncated'],
    [[0x01, 0], 'truncated'],
    [[0x01, 0, 0], 'bad-port'],
    [[0x01, 0, 22, 0], 'trailing-bytes'],
    [[0x03, STREAM_REFUSALS.length], 'bad-stream-reason'],
    [[0x04], 'empty-data'],
    [[0x05, 0, 0, 0, 0], 'bad-credit'],
    [[0x02, 1], 'trailing-bytes'],
    [[0x08], 'unknown-type'],
  ]
  for (const [bytes, reason] of cases) t.same(decodeStreamMessage(Buffer.from(bytes)), { ok: false, reason }, `${Buffer.from(bytes).toString('hex') || 'empty'}: ${reason}`)
  t.same(decodeStreamMessage(Buffer.concat([Buffer.from([0x04]), Buffer.alloc(MAX_STREAM_DATA + 1)])), { ok: false, reason: 'oversized' })
  t.end()
})

t.test('any bytes: a stream message or a named reason, and what decodes re-encodes to the same bytes', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (raw) => {
      const bytes = Buffer.from(raw)
      const decoded = decodeStreamMessage(bytes)
      if (!decoded.ok) return (STREAM_CODEC_REASONS as readonly string[]).includes(decoded.reason)
      return encodeStreamMessage(decoded.value).equals(bytes)
    }),
    { numRuns: RUNS },
  )
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => {
      const bytes = Buffer.from(raw)
      const greeting = readSocksGreeting(bytes)
      const request = readSocksRequest(bytes)
      isSctpInit(bytes)
      const sctp = checkSctpPacket(bytes)
      if (sctp !== null && !(SCTP_PACKET_REASONS as readonly string[]).includes(sctp)) return false
      const fine = (r: { ok: unknown; used?: number }): boolean => r.ok !== true || (r.used !== undefined && r.used <= bytes.length)
      return fine(greeting) && fine(request)
    }),
    { numRuns: RUNS },
  )
  t.end()
})

t.test('SCTP packets werift may parse: a header and chunks whose lengths (at least 4, padded to 4) end inside the packet', (t) => {
  const packet = (...chunks: number[][]): Buffer => Buffer.concat([Buffer.alloc(12), ...chunks.map((c) => Buffer.from(c))])
  t.equal(checkSctpPacket(packet([3, 0, 0, 4])), null, 'one empty chunk of 4 bytes')
  t.equal(checkSctpPacket(packet([0, 3, 0, 5, 9, 0, 0, 0], [11, 0, 0, 4])), null, 'a chunk of 5 padded to 8, then another')
  t.equal(checkSctpPacket(packet([11, 0, 0, 4], [1, 2, 3])), null, 'trailing bytes too few for a chunk header are left alone (as werift does)')
  t.equal(checkSctpPacket(Buffer.alloc(15)), 'sctp-short', 'no room for a chunk')
  t.equal(checkSctpPacket(packet([11, 0, 0, 0])), 'sctp-chunk-length', 'a length of 0 (werift would never move past it)')
  t.equal(checkSctpPacket(packet([11, 0, 0, 3])), 'sctp-chunk-length', 'a length below its own header')
  t.equal(checkSctpPacket(packet([0, 3, 0, 9, 1, 2, 3, 4])), 'sctp-chunk-length', 'a length past the end')
  t.equal(checkSctpPacket(packet([11, 0, 0, 4], [11, 0, 0, 0])), 'sctp-chunk-length', 'a later chunk of length 0')
  t.end()
})

t.test('SOCKS5: greeting and requests of each address type; short input asks for more', (t) => {
  t.same(readSocksGreeting(Buffer.from([5, 2, 0, 2])), { ok: true, value: { methods: [0, 2] }, used: 4 })
  t.same(readSocksGreeting(Buffer.from([5, 2, 0])), { ok: 'more' })
  t.same(readSocksGreeting(Buffer.from([4, 1, 0])), { ok: false, reason: 'bad-version' })
  t.same(readSocksGreeting(Buffer.from([5, 0])), { ok: false, reason: 'no-methods' })
  t.same(readSocksRequest(Buffer.from([5, 1, 0, 1, 10, 9, 0, 1, 0, 22, 0xff])), { ok: true, value: { command: 1, host: '10.9.0.1', kind: 'ipv4', port: 22 }, used: 10 })
  const name = Buffer.concat([Buffer.from([5, 1, 0, 3, 14]), Buffer.from('device.overlan'), Buffer.from([0, 80])])
  t.same(readSocksRequest(name), { ok: true, value: { command: 1, host: 'device.overlan', kind: 'name', port: 80 }, used: name.length })
  t.same(readSocksRequest(name.subarray(0, name.length - 1)), { ok: 'more' })
  t.match(readSocksRequest(Buffer.concat([Buffer.from([5, 1, 0, 4]), Buffer.alloc(15, 0), Buffer.from([1, 0, 80])])), { ok: true, value: { host: '::1', kind: 'ipv6' } })
  t.same(readSocksRequest(Buffer.from([5, 1, 1, 1, 0, 0, 0, 0, 0, 0])), { ok: false, reason: 'nonzero-reserved' })
  t.same(readSocksRequest(Buffer.from([5, 1, 0, 9, 0, 0, 0, 0, 0, 0])), { ok: false, reason: 'bad-address-type' })
  t.same(readSocksRequest(Buffer.from([5, 1, 0, 3, 0, 0, 0])), { ok: false, reason: 'empty-name' })
  t.end()
})
