// Every packet type encodes and decodes back to the same fields, and every byte layout has the
// exact length docs/PROTOCOL.md gives.
import t from 'tap'
import {
  COOKIE_PACKET_BYTES,
  DEREGISTER_BYTES,
  ERROR_BYTES,
  ErrorCode,
  HELLO_BYTES,
  KEEPALIVE_BYTES,
  PEER_QUERY_BYTES,
  PacketType,
  REGISTER_ACK_BYTES,
  SEALED_HEADER_BYTES,
  decodePacket,
  encodeCookie,
  encodeDeregister,
  encodeError,
  encodeHello,
  encodeKeepalive,
  encodePeerInfo,
  encodePeerQuery,
  encodeRegister,
  encodeRegisterAck,
  formatMac,
  NO_PROOF,
  packetTypeName,
  rateLimitedProof,
  type Packet,
} from '../../src/wire/index.js'
import { allSamples, cookie, nonce, sampleRecord, sealedSample } from '../fixtures/sample-packets.js'

function decodeOk(buf: Buffer): Packet {
  const result = decodePacket(buf)
  if (!result.ok) throw new Error(`refused: ${result.reason}`)
  return result.value
}

t.test('every packet type has a sample that decodes to its own type', (t) => {
  const samples = allSamples()
  t.equal(samples.size, Object.keys(PacketType).length, 'one sample per packet type')
  for (const [name, buf] of samples) t.equal(packetTypeName(decodeOk(buf).type), name, name)
  t.end()
})

t.test('HELLO and COOKIE', (t) => {
  const hello = encodeHello(nonce)
  t.equal(hello.length, HELLO_BYTES)
  t.match(decodeOk(hello), { type: PacketType.Hello, clientNonce: nonce })
  const reflexive = { family: 6 as const, address: '2001:db8::1:0:0:1', port: 1 }
  const serverTimeMs = Date.UTC(2026, 10, 30, 12, 0, 0, 123)
  const c = encodeCookie(nonce, cookie, reflexive, serverTimeMs)
  t.equal(c.length, COOKIE_PACKET_BYTES)
  t.equal(c.length, 59)
  t.ok(c.length <= hello.length, 'the answer to a HELLO is never larger than the HELLO')
  t.same(decodeOk(c), { type: PacketType.Cookie, clientNonce: nonce, cookie, reflexive, serverTimeMs })
  t.end()
})

t.test("COOKIE's server time: the last 8 bytes, big-endian milliseconds; above 2^53 - 1 or missing is refused", (t) => {
  const reflexive = { family: 4 as const, address: '198.51.100.1', port: 7654 }
  const c = encodeCookie(nonce, cookie, reflexive, 2 ** 53 - 1)
  t.equal(c.subarray(c.length - 8).toString('hex'), '001fffffffffffff', 'u64 big-endian at the end')
  t.match(decodeOk(c), { serverTimeMs: 2 ** 53 - 1 })
  const tooLarge = Buffer.from(c)
  tooLarge.writeUInt32BE(0x00200000, c.length - 8)
  t.same(decodePacket(tooLarge), { ok: false, reason: 'bad-timestamp' })
  t.same(decodePacket(c.subarray(0, c.length - 8)), { ok: false, reason: 'truncated' }, 'the old 51-byte layout is refused')
  t.same(decodePacket(Buffer.concat([c, Buffer.alloc(1)])), { ok: false, reason: 'trailing-bytes' })
  t.end()
})

t.test('REGISTER carries the signed record unchanged', (t) => {
  const record = sampleRecord()
  const packet = decodeOk(encodeRegister(nonce, cookie, record))
  if (packet.type !== PacketType.Register) return t.fail('wrong type')
  t.same(packet.clientNonce, nonce)
  t.same(packet.cookie, cookie)
  t.ok(packet.record.bytes.equals(record), 'record bytes are the bytes that were signed')
  t.equal(packet.record.name, 'lab-edge-1')
  t.equal(formatMac(packet.record.mac), '02:aa:bb:cc:dd:ee')
  t.same(packet.record.overlay, { address: '10.9.0.1', prefix: 24 })
  t.same(packet.record.candidates, [
    { family: 4, address: '192.168.1.20', port: 40000 },
    { family: 6, address: 'fd00::20', port: 40000 },
  ])
  t.equal(packet.record.timestamp, 1_700_000_000_123)
  t.equal(packet.record.body.length + 128, packet.record.bytes.length)
  t.end()
})

t.test('REGISTER_ACK, with and without an overlay address', (t) => {
  for (const overlay of [{ address: '10.1.2.3', prefix: 16 }, null]) {
    const ack = { edgeId: 2 ** 53 - 1, timestamp: 5, reflexive: { family: 4 as const, address: '198.51.100.1', port: 65535 }, overlay, keepaliveSeconds: 20 }
    const buf = encodeRegisterAck(ack)
    t.equal(buf.length, REGISTER_ACK_BYTES)
    t.same(decodeOk(buf), { type: PacketType.RegisterAck, ...ack })
  }
  t.end()
})

t.test('KEEPALIVE and its ACK are the same size', (t) => {
  for (const type of [PacketType.Keepalive, PacketType.KeepaliveAck] as const) {
    const buf = encodeKeepalive(type, 77, 2 ** 40)
    t.equal(buf.length, KEEPALIVE_BYTES)
    t.same(decodeOk(buf), { type, edgeId: 77, seq: 2 ** 40 })
  }
  t.end()
})

t.test('PEER_QUERY by edge, by MAC and by IPv4', (t) => {
  const targets = [
    { kind: 'edge' as const, edgeId: 123456789 },
    { kind: 'mac' as const, mac: Buffer.from('020000000001', 'hex') },
    { kind: 'ipv4' as const, address: Buffer.from([10, 9, 0, 2]) },
  ]
  for (const target of targets) {
    const buf = encodePeerQuery(5, target)
    t.equal(buf.length, PEER_QUERY_BYTES)
    t.same(decodeOk(buf), { type: PacketType.PeerQuery, senderId: 5, target }, target.kind)
  }
  t.end()
})

t.test('PEER_INFO and PUNCH_REQUEST carry reflexive address, overlay and record', (t) => {
  const record = sampleRecord()
  for (const type of [PacketType.PeerInfo, PacketType.PunchRequest] as const) {
    const reflexive = { family: 4 as const, address: '203.0.113.9', port: 4444 }
    const packet = decodeOk(encodePeerInfo(type, reflexive, { address: '10.9.0.9', prefix: 24 }, record))
    if (packet.type !== type) return t.fail('wrong type')
    t.same(packet.reflexive, reflexive)
    t.same(packet.overlay, { address: '10.9.0.9', prefix: 24 })
    t.ok(packet.record.bytes.equals(record))
    t.equal(packet.relayOnly, false)
    const relayOnly = encodePeerInfo(type, reflexive, null, record, true)
    t.equal(relayOnly[2], 0x01, 'flag 0x01: the peer is on a WebSocket')
    t.match(decodeOk(relayOnly), { type, reflexive, relayOnly: true })
    const otherFlag = Buffer.from(relayOnly)
    otherFlag[2] = 0x03
    t.same(decodePacket(otherFlag), { ok: false, reason: 'nonzero-reserved' }, 'any other flag bit is refused')
  }
  t.end()
})

t.test('DEREGISTER and ERROR', (t) => {
  const sig = Buffer.alloc(64, 9)
  const d = encodeDeregister(8, 9, sig)
  t.equal(d.length, DEREGISTER_BYTES)
  t.same(decodeOk(d), { type: PacketType.Deregister, edgeId: 8, timestamp: 9, signature: sig })
  const subject = Buffer.from('0000000000000063', 'hex')
  for (const code of Object.values(ErrorCode)) {
    const e = encodeError(code, nonce, subject)
    t.equal(e.length, ERROR_BYTES)
    t.same(decodeOk(e), { type: PacketType.Error, code, proof: nonce, subject })
  }
  t.equal(ERROR_BYTES, 20, 'ERROR: header, proof (8), subject (8)')
  t.equal(decodePacket(encodeError(ErrorCode.UnknownEdge, nonce, subject).subarray(0, 12)).ok, false, 'the 12-byte ERROR of before is refused (truncated)')
  t.match(decodePacket(Buffer.from([1, 0x0b, 15, 0, ...Buffer.alloc(16)])), { ok: false, reason: 'bad-error-code' }, 'an unknown code is refused')
  t.end()
})

t.test('a rate-limited ERROR echoes what the edge sent: the client nonce of a REGISTER, the sequence of a KEEPALIVE', (t) => {
  t.same(rateLimitedProof(encodeRegister(nonce, cookie, sampleRecord())), nonce)
  t.same(rateLimitedProof(encodeKeepalive(PacketType.Keepalive, 99, 0x1234_5678_9abc)), Buffer.from('0000123456789abc', 'hex'))
  t.same(rateLimitedProof(encodeHello(nonce)), NO_PROOF, 'nothing to echo for other types')
  t.same(rateLimitedProof(Buffer.from([1, PacketType.Register, 0, 0, 1])), NO_PROOF, 'nor for a cut REGISTER')
  t.end()
})

t.test('sealed types keep IDs, counter and ciphertext', (t) => {
  for (const type of [PacketType.Data, PacketType.Relay, PacketType.Probe, PacketType.ProbeAck] as const) {
    const buf = sealedSample(type)
    const packet = decodeOk(buf)
    if (!('ciphertext' in packet)) return t.fail('not sealed')
    t.equal(packet.type, type)
    t.equal(packet.senderId, 0x1234_5678_9abc)
    t.equal(packet.destId, type === PacketType.Relay ? 0 : 0x0fed_cba9_8765)
    t.equal(packet.counter, 42)
    t.equal(packet.header.length, SEALED_HEADER_BYTES)
    t.equal(packet.ciphertext.length, 60 + 16)
  }
  t.end()
})

t.test('encoders refuse values the layout cannot carry', (t) => {
  t.throws(() => encodeKeepalive(PacketType.Keepalive, 2 ** 53, 1), RangeError)
  t.throws(() => encodeHello(Buffer.alloc(7)), RangeError)
  t.throws(() => encodeRegisterAck({ edgeId: 1, timestamp: 1, reflexive: { family: 4, address: '::1', port: 1 }, overlay: null, keepaliveSeconds: 1 }), RangeError)
  t.throws(() => encodeRegisterAck({ edgeId: 1, timestamp: 1, reflexive: { family: 4, address: '1.2.3.4', port: 0 }, overlay: null, keepaliveSeconds: 1 }), RangeError)
  t.throws(() => encodeRegisterAck({ edgeId: 1, timestamp: 1, reflexive: { family: 4, address: '1.2.3.4', port: 1 }, overlay: { address: '1.2.3.4', prefix: 33 }, keepaliveSeconds: 1 }), RangeError)
  t.end()
})
