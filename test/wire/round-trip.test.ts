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
  RELAY_PREFIX_BYTES,
  REVOCATION_PACKET_BYTES,
  decodeAnnouncement,
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
  encodeRevocationPacket,
  formatMac,
  isOldProtocolCookie,
  isOldProtocolHello,
  NO_PROOF,
  packetTypeName,
  rateLimitedProof,
  type Packet,
} from '../../src/wire/index.js'
import { allSamples, cookie, nonce, relaySample, sampleAnnouncement, sampleMember, sampleRevocation } from '../fixtures/sample-packets.js'
import { verifyAnnouncementSignature } from '../../src/crypto/index.js'

function decodeOk(buf: Buffer): Packet {
  const result = decodePacket(buf)
  if (!result.ok) throw new Error(`refused: ${result.reason}`)
  return result.value
}

t.test('every packet type has a sample that decodes to its own type', (t) => {
  const samples = allSamples()
  t.equal(samples.size, Object.keys(PacketType).length + 1 + 3, 'one sample per packet type (RELAY twice: to one edge, to everyone; ENROLL once per leg)')
  for (const [name, buf] of samples) t.equal(packetTypeName(decodeOk(buf).type), name.replace('RelayBroadcast', 'Relay').replace(/^Enroll\w+$/, 'Enroll'), name)
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

t.test('REGISTER carries the signed announcement unchanged: certificate, timestamp, candidates, member signature', (t) => {
  const member = sampleMember()
  const announcement = sampleAnnouncement(member)
  const packet = decodeOk(encodeRegister(nonce, cookie, announcement))
  if (packet.type !== PacketType.Register) return t.fail('wrong type')
  t.same(packet.clientNonce, nonce)
  t.same(packet.cookie, cookie)
  const a = packet.announcement
  t.ok(a.bytes.equals(announcement), 'announcement bytes are the bytes that were signed')
  t.ok(a.certificate.bytes.equals(member.certificate), 'the certificate inside, unchanged')
  t.equal(a.certificate.name, 'lab-edge-1')
  t.equal(formatMac(a.certificate.mac), formatMac(member.decoded.mac))
  t.same(a.certificate.ipv4, { address: '10.9.0.1', prefix: 24 })
  t.same(a.candidates, [
    { family: 4, address: '192.168.1.20', port: 40000 },
    { family: 6, address: 'fd00::20', port: 40000 },
  ])
  t.equal(a.timestamp, 1_700_000_000_123)
  t.equal(a.body.length + 64, a.bytes.length, 'the member signature is the last 64 bytes')
  t.ok(verifyAnnouncementSignature(a), 'signed by the member key the certificate binds')
  const tampered = Buffer.from(announcement)
  tampered[tampered.length - 64 - 1]! ^= 1 // the last candidate's address
  const reread = decodeAnnouncement(tampered)
  t.ok(reread.ok && !verifyAnnouncementSignature(reread.value), 'a changed candidate breaks the member signature')
  t.end()
})

t.test('an announcement is decoded strictly: certificate length, certificate, candidates', (t) => {
  const announcement = sampleAnnouncement()
  const short = Buffer.from(announcement)
  short.writeUInt16BE(10, 0)
  t.same(decodeAnnouncement(short), { ok: false, reason: 'bad-certificate-length' })
  const badCertificate = Buffer.from(announcement)
  badCertificate[2] = 9 // the certificate's format byte
  t.same(decodeAnnouncement(badCertificate), { ok: false, reason: 'bad-certificate' })
  const certLength = announcement.readUInt16BE(0)
  const tooMany = Buffer.from(announcement)
  tooMany[2 + certLength + 8] = 5
  t.same(decodeAnnouncement(tooMany), { ok: false, reason: 'too-many-candidates' })
  t.same(decodeAnnouncement(announcement.subarray(0, announcement.length - 1)), { ok: false, reason: 'truncated' })
  t.same(decodeAnnouncement(Buffer.concat([announcement, Buffer.alloc(1)])), { ok: false, reason: 'trailing-bytes' })
  t.end()
})

t.test('REGISTER_ACK, with and without an overlay address, ends with the supernode clock', (t) => {
  for (const overlay of [{ address: '10.1.2.3', prefix: 16 }, null]) {
    const ack = { edgeId: 2 ** 53 - 1, timestamp: 5, reflexive: { family: 4 as const, address: '198.51.100.1', port: 65535 }, overlay, keepaliveSeconds: 20, serverTimeMs: 1_800_000_000_321 }
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

t.test('PEER_INFO and PUNCH_REQUEST carry the reflexive address and the announcement', (t) => {
  const announcement = sampleAnnouncement()
  for (const type of [PacketType.PeerInfo, PacketType.PunchRequest] as const) {
    const reflexive = { family: 4 as const, address: '203.0.113.9', port: 4444 }
    const packet = decodeOk(encodePeerInfo(type, reflexive, announcement))
    if (packet.type !== type) return t.fail('wrong type')
    t.same(packet.reflexive, reflexive)
    t.ok(packet.announcement.bytes.equals(announcement))
    t.equal(packet.relayOnly, false)
    const relayOnly = encodePeerInfo(type, reflexive, announcement, true)
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
  t.match(decodePacket(Buffer.from([2, 0x0b, 19, 0, ...Buffer.alloc(16)])), { ok: false, reason: 'bad-error-code' }, 'an unknown code is refused')
  t.end()
})

t.test('REVOCATION carries a signed revocation; one that does not decode is refused', (t) => {
  const revocation = sampleRevocation()
  const buf = encodeRevocationPacket(revocation)
  t.equal(buf.length, REVOCATION_PACKET_BYTES)
  t.equal(REVOCATION_PACKET_BYTES, 148)
  const packet = decodeOk(buf)
  if (packet.type !== PacketType.Revocation) return t.fail('wrong type')
  t.ok(packet.revocation.bytes.equals(revocation))
  const badFormat = Buffer.from(buf)
  badFormat[4] = 9
  t.same(decodePacket(badFormat), { ok: false, reason: 'bad-revocation' })
  t.same(decodePacket(buf.subarray(0, buf.length - 1)), { ok: false, reason: 'truncated' })
  t.throws(() => encodeRevocationPacket(Buffer.alloc(10)), RangeError)
  t.end()
})

t.test('protocol v1 is recognised as old-protocol, and its HELLO and COOKIE can be told apart', (t) => {
  const oldHello = encodeHello(nonce, 1)
  t.equal(oldHello[0], 1)
  t.same(decodePacket(oldHello), { ok: false, reason: 'old-protocol' }, 'the codec refuses every v1 packet')
  t.ok(isOldProtocolHello(oldHello), 'a supernode sees a v1 HELLO')
  t.notOk(isOldProtocolHello(encodeHello(nonce)), 'not a v2 one')
  const oldCookie = encodeCookie(nonce, cookie, { family: 4, address: '198.51.100.1', port: 7654 }, 1, 1)
  t.ok(isOldProtocolCookie(oldCookie), 'an edge sees a v1 COOKIE')
  t.notOk(isOldProtocolCookie(encodeCookie(nonce, cookie, { family: 4, address: '198.51.100.1', port: 7654 }, 1)), 'not a v2 one')
  t.same(decodePacket(Buffer.from([3, 1, 0, 0])), { ok: false, reason: 'bad-version' }, 'any other version is just bad')
  t.end()
})

t.test('a rate-limited ERROR echoes what the edge sent: the client nonce of a REGISTER, the sequence of a KEEPALIVE', (t) => {
  t.same(rateLimitedProof(encodeRegister(nonce, cookie, sampleAnnouncement())), nonce)
  t.same(rateLimitedProof(encodeKeepalive(PacketType.Keepalive, 99, 0x1234_5678_9abc)), Buffer.from('0000123456789abc', 'hex'))
  t.same(rateLimitedProof(encodeHello(nonce)), NO_PROOF, 'nothing to echo for other types')
  t.same(rateLimitedProof(Buffer.from([2, PacketType.Register, 0, 0, 1])), NO_PROOF, 'nor for a cut REGISTER')
  t.end()
})

t.test('RELAY keeps sender, destination and the session packet inside', (t) => {
  for (const destId of [0x0fed_cba9_8765, 0]) {
    const buf = relaySample(destId)
    const packet = decodeOk(buf)
    if (packet.type !== PacketType.Relay) return t.fail('not a relay')
    t.equal(packet.senderId, 0x1234_5678_9abc)
    t.equal(packet.destId, destId)
    t.equal(packet.inner.length, buf.length - RELAY_PREFIX_BYTES)
    t.equal(packet.inner[1], destId === 0 ? 0x23 : 0x22, destId === 0 ? 'a broadcast to everyone' : 'session data to one edge')
  }
  const broadcastToOne = relaySample(0x0fed_cba9_8765)
  broadcastToOne[RELAY_PREFIX_BYTES + 1] = 0x23
  t.same(decodePacket(broadcastToOne), { ok: false, reason: 'bad-inner-packet' }, 'a broadcast to one edge')
  const dataToEveryone = relaySample(0)
  dataToEveryone[RELAY_PREFIX_BYTES + 1] = 0x22
  t.same(decodePacket(dataToEveryone), { ok: false, reason: 'bad-inner-packet' }, 'session data to everyone')
  const notSession = relaySample(5)
  notSession[RELAY_PREFIX_BYTES + 1] = PacketType.Register
  t.same(decodePacket(notSession), { ok: false, reason: 'bad-inner-packet' }, 'a control packet inside')
  const oldInner = relaySample(5)
  oldInner[RELAY_PREFIX_BYTES] = 1
  t.same(decodePacket(oldInner), { ok: false, reason: 'bad-inner-packet' }, 'a v1 packet inside')
  const zeroSender = relaySample(5)
  zeroSender.fill(0, 4, 12)
  t.same(decodePacket(zeroSender), { ok: false, reason: 'bad-edge-id' })
  t.same(decodePacket(relaySample(5).subarray(0, RELAY_PREFIX_BYTES + 3)), { ok: false, reason: 'truncated' })
  t.end()
})

t.test('encoders refuse values the layout cannot carry', (t) => {
  t.throws(() => encodeKeepalive(PacketType.Keepalive, 2 ** 53, 1), RangeError)
  t.throws(() => encodeHello(Buffer.alloc(7)), RangeError)
  const ack = { edgeId: 1, timestamp: 1, overlay: null, keepaliveSeconds: 1, serverTimeMs: 1 }
  t.throws(() => encodeRegisterAck({ ...ack, reflexive: { family: 4, address: '::1', port: 1 } }), RangeError)
  t.throws(() => encodeRegisterAck({ ...ack, reflexive: { family: 4, address: '1.2.3.4', port: 0 } }), RangeError)
  t.throws(() => encodeRegisterAck({ ...ack, reflexive: { family: 4, address: '1.2.3.4', port: 1 }, overlay: { address: '1.2.3.4', prefix: 33 } }), RangeError)
  t.end()
})
