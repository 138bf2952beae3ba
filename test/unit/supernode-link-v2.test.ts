// An edge's link to a supernode, protocol v2: every REGISTER carries a freshly signed announcement;
// REGISTER_ACK's supernode time becomes the clock skew; a supernode that does not answer HELLO is
// asked once in protocol v1, and one that answers so is named once; certificate refusals move the
// link only with their proof.
import t from 'tap'
import { REFRESH_TIMEOUT_MS, SLOW_RETRY_MS, SupernodeLink, V1_PROBE_AFTER_HELLOS, type LinkHost } from '../../src/edge/supernode-link.js'
import { testAnnouncement, testAuthority, testMember } from '../fixtures/members.js'
import {
  ErrorCode,
  NO_SUBJECT,
  OLD_WIRE_VERSION,
  PacketType,
  WIRE_VERSION,
  decodePacket,
  encodeCookie,
  u53Bytes,
  type ErrorPacket,
  type Packet,
} from '../../src/wire/index.js'

const SUPERNODE = { host: '127.0.0.1', port: 7654, ports: [7654, 443] }
const START = Date.UTC(2026, 5, 1, 12)
const REFLEXIVE = { family: 4 as const, address: '127.0.0.1', port: 5000 }
const authority = testAuthority()
const member = testMember(authority, { nowMs: START })

interface Harness {
  link: SupernodeLink
  clock: { now: number }
  /** every datagram, raw, with the port it went to */
  raw: { buf: Buffer; port: number }[]
  sent: Packet[]
  events: string[]
  announced: number[]
}

function harness(): Harness {
  const clock = { now: START }
  const h: Harness = { link: null as unknown as SupernodeLink, clock, raw: [], sent: [], events: [], announced: [] }
  const host: LinkHost = {
    now: () => clock.now,
    send: (buf, _address, port) => {
      h.raw.push({ buf: Buffer.from(buf), port })
      const p = decodePacket(buf)
      if (p.ok) h.sent.push(p.value)
    },
    announcement: () => {
      // as the edge does: a newer timestamp each time, signed afresh
      const timestamp = clock.now + h.announced.length
      h.announced.push(timestamp)
      return { bytes: testAnnouncement(member, timestamp), timestamp }
    },
    registered: () => h.events.push('registered'),
    lost: (_link, why) => h.events.push(`lost: ${why}`),
    refused: (_link, why) => h.events.push(`refused: ${why}`),
    peerGone: () => undefined,
    unprovenError: () => undefined,
    certificateRefused: (_link, code) => h.events.push(`certificate refused: ${code}`),
    oldProtocol: () => h.events.push('old protocol'),
  }
  h.link = new SupernodeLink(SUPERNODE, host)
  return h
}

function lastOf<T extends Packet['type']>(h: Harness, type: T): Extract<Packet, { type: T }> {
  const p = h.sent.findLast((x) => x.type === type)
  if (p === undefined) throw new Error(`nothing of type ${type} sent`)
  return p as Extract<Packet, { type: T }>
}

/** HELLO → COOKIE → REGISTER; the ACK comes `rttMs` later stamped with the supernode's clock `skewMs` ahead. */
function register(h: Harness, rttMs = 40, skewMs = 0): void {
  h.link.tick(h.clock.now)
  const hello = lastOf(h, PacketType.Hello)
  h.link.onCookie({ type: PacketType.Cookie, clientNonce: hello.clientNonce, cookie: Buffer.alloc(20), reflexive: REFLEXIVE, serverTimeMs: h.clock.now + skewMs })
  const register = lastOf(h, PacketType.Register)
  h.clock.now += rttMs
  h.link.onRegisterAck({
    type: PacketType.RegisterAck,
    edgeId: member.edgeId,
    timestamp: register.announcement.timestamp,
    reflexive: REFLEXIVE,
    overlay: null,
    keepaliveSeconds: 20,
    serverTimeMs: h.clock.now - rttMs / 2 + skewMs,
  })
}

function error(code: ErrorCode, proof: Buffer): ErrorPacket {
  return { type: PacketType.Error, code, proof, subject: NO_SUBJECT }
}

t.test('each REGISTER carries a freshly signed announcement with a newer timestamp', (t) => {
  const h = harness()
  register(h)
  const first = lastOf(h, PacketType.Register)
  t.ok(first.announcement.certificate.bytes.equals(member.certificate), 'the certificate')
  h.link.reregister()
  register(h)
  const second = lastOf(h, PacketType.Register)
  t.ok(second.announcement.timestamp > first.announcement.timestamp, 'newer timestamp')
  t.notOk(second.announcement.signature.equals(first.announcement.signature), 'signed again')
  t.same(h.events, ['registered', 'registered'])
  t.end()
})

t.test("the clock skew is the supernode's time minus the midpoint of REGISTER and its ACK", (t) => {
  const h = harness()
  t.equal(h.link.clockSkewMs, null, 'unknown before a registration')
  register(h, 40, 5_000)
  t.equal(h.link.clockSkewMs, 5_000, 'ahead by 5 s')
  h.link.reregister()
  register(h, 120, -90_000)
  t.equal(h.link.clockSkewMs, -90_000, 'behind by 90 s, whatever the round trip')
  t.end()
})

t.test(`after ${V1_PROBE_AFTER_HELLOS} unanswered HELLOs, one HELLO of protocol v1; a v1 COOKIE answering it names the supernode once`, (t) => {
  const h = harness()
  const hellos = (version: number) => h.raw.filter((d) => d.buf[0] === version && d.buf[1] === PacketType.Hello)
  // HELLOs go to both ports each time; step through the backoff
  for (let i = 0; i < V1_PROBE_AFTER_HELLOS; i++) {
    h.link.tick(h.clock.now)
    h.clock.now += 10_000
  }
  t.equal(hellos(OLD_WIRE_VERSION).length, 0, `no probe after ${V1_PROBE_AFTER_HELLOS} HELLO rounds (${V1_PROBE_AFTER_HELLOS - 1} unanswered)`)
  h.link.tick(h.clock.now)
  const probes = hellos(OLD_WIRE_VERSION)
  t.equal(probes.length, 2, 'one v1 HELLO, to each UDP port')
  t.same(
    probes.map((p) => p.port),
    [7654, 443],
  )
  t.equal(hellos(WIRE_VERSION).length, 2 * (V1_PROBE_AFTER_HELLOS + 1), 'v2 HELLOs go on')

  const nonce = probes[0]!.buf.subarray(4, 12)
  const v1Cookie = (n: Buffer) => encodeCookie(n, Buffer.alloc(20), REFLEXIVE, START, OLD_WIRE_VERSION)
  t.equal(h.link.onOldProtocol(v1Cookie(Buffer.alloc(8, 9))), false, 'a v1 COOKIE with another nonce is not ours')
  t.same(h.events, [])
  t.equal(h.link.onOldProtocol(v1Cookie(nonce)), true, 'the answer to our probe')
  t.same(h.events, ['old protocol'], 'said once')
  t.equal(h.link.onOldProtocol(v1Cookie(nonce)), false, 'a copy of it says nothing more')
  t.equal(h.link.speaksOldProtocol, true)

  // v2 goes on at the slow pace, and no second probe follows
  const sentBefore = hellos(WIRE_VERSION).length
  h.clock.now += 10_000
  h.link.tick(h.clock.now)
  t.equal(hellos(WIRE_VERSION).length, sentBefore + 2, 'the next v2 HELLO')
  h.clock.now += SLOW_RETRY_MS - 1
  h.link.tick(h.clock.now)
  t.equal(hellos(WIRE_VERSION).length, sentBefore + 2, `none sooner than ${SLOW_RETRY_MS} ms`)
  h.clock.now += 1
  h.link.tick(h.clock.now)
  t.equal(hellos(WIRE_VERSION).length, sentBefore + 4, `then one ${SLOW_RETRY_MS} ms later`)
  t.equal(hellos(OLD_WIRE_VERSION).length, 2, 'no second probe')

  // the supernode is upgraded: a v2 COOKIE registers as ever and the link forgets it was v1
  register(h)
  t.equal(h.link.speaksOldProtocol, false)
  t.equal(h.link.state, 'registered')
  t.end()
})

t.test('a supernode that answers needs no probe', (t) => {
  const h = harness()
  for (let i = 0; i < 5; i++) {
    register(h)
    h.link.reregister()
  }
  t.equal(h.raw.filter((d) => d.buf[0] === OLD_WIRE_VERSION).length, 0, 'five registrations, no v1 HELLO')
  t.end()
})

t.test('certificate refusals: of a REGISTER proved by its nonce, of a registration by its nonce; guesses change nothing', (t) => {
  const codes = [ErrorCode.CertificateExpired, ErrorCode.CertificateRevoked, ErrorCode.CertificateNotYetValid, ErrorCode.BadCertificate]
  for (const code of codes) {
    const h = harness()
    h.link.tick(h.clock.now)
    const hello = lastOf(h, PacketType.Hello)
    h.link.onCookie({ type: PacketType.Cookie, clientNonce: hello.clientNonce, cookie: Buffer.alloc(20), reflexive: REFLEXIVE, serverTimeMs: START })
    const nonce = lastOf(h, PacketType.Register).clientNonce
    h.link.onError(error(code, u53Bytes(member.edgeId)))
    t.equal(h.link.state, 'registering', `${code}: not with the edge ID as proof`)
    h.link.onError(error(code, nonce))
    t.equal(h.link.state, 'hello', `${code}: refused REGISTER`)
    t.same(h.events, [`certificate refused: ${code}`])
    // it waits before asking again (the edge re-issues and calls reregister to go sooner)
    const count = h.sent.length
    h.link.tick(h.clock.now + SLOW_RETRY_MS - 1)
    t.equal(h.sent.length, count, `${code}: no HELLO before ${SLOW_RETRY_MS} ms`)
    h.link.reregister()
    h.link.tick(h.clock.now)
    t.equal(h.sent.at(-1)!.type, PacketType.Hello, `${code}: at once after reregister`)
  }

  // registered, then unregistered at notAfter: proof = the registration's client nonce
  const h = harness()
  register(h)
  const registration = lastOf(h, PacketType.Register).clientNonce
  h.link.onError(error(ErrorCode.CertificateExpired, Buffer.alloc(8, 1)))
  t.equal(h.link.state, 'registered', 'a guessed proof: still registered')
  h.link.onError(error(ErrorCode.CertificateExpired, registration))
  t.equal(h.link.state, 'hello', 'unregistered')
  t.match(h.events, ['registered', /^lost: supernode says certificate-expired/, `certificate refused: ${ErrorCode.CertificateExpired}`])
  t.end()
})

t.test('registering again (a new certificate) keeps the link usable until the new registration is acknowledged, or lost after REFRESH_TIMEOUT_MS', (t) => {
  const h = harness()
  register(h)
  h.link.reregister()
  t.equal(h.link.registered, true, 'still counts as registered: the supernode holds the last registration')
  t.equal(h.link.healthy(h.clock.now), true, 'and relays')
  register(h)
  t.equal(h.link.state, 'registered')
  t.same(h.events, ['registered', 'registered'], 'nothing lost in between')

  // a supernode that stops answering during the re-registration
  h.link.reregister()
  h.clock.now += REFRESH_TIMEOUT_MS - 1
  h.link.tick(h.clock.now)
  t.equal(h.link.registered, true, `kept for ${REFRESH_TIMEOUT_MS - 1} ms`)
  h.clock.now += 1
  h.link.tick(h.clock.now)
  t.equal(h.link.registered, false, 'then lost')
  t.match(h.events.at(-1), /^lost: registering again unanswered for 9 s/)
  t.end()
})
