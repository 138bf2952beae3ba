// An edge's link to a supernode believes an ERROR only when it carries a proof the link can check:
// spoofed ERRORs with what an off-path sender knows or can guess (the edge ID, small keepalive
// sequences, zeros) change nothing; the supernode's real answers still work.
import t from 'tap'
import { SupernodeLink, HINT_CHECK_MS, KEEPALIVE_SEQ_START_LIMIT, type LinkHost } from '../../src/edge/supernode-link.js'
import { testAnnouncement, testAuthority, testMember } from '../fixtures/members.js'
import { ErrorCode, NO_PROOF, NO_SUBJECT, PacketType, decodePacket, u53Bytes, type ErrorPacket, type Packet } from '../../src/wire/index.js'

interface Harness {
  link: SupernodeLink
  sent: Packet[]
  events: string[]
  gone: number[]
  clock: { now: number }
}

const SUPERNODE = { host: '127.0.0.1', port: 7654 }
const ANNOUNCEMENT = testAnnouncement(testMember(testAuthority()), 42)
const EDGE_ID = 0x1234_5678_9abc

/** A link driven to 'registered' against a scripted supernode; returns what it sent and said. */
function registeredLink(): Harness {
  const clock = { now: 1_000_000 }
  const sent: Packet[] = []
  const events: string[] = []
  const gone: number[] = []
  const host: LinkHost = {
    now: () => clock.now,
    send: (buf) => {
      const p = decodePacket(buf)
      if (!p.ok) throw new Error(`the link sent a bad packet: ${p.reason}`)
      sent.push(p.value)
    },
    announcement: () => ({ bytes: ANNOUNCEMENT, timestamp: 42 }),
    registered: () => events.push('registered'),
    lost: (_link, why) => events.push(`lost: ${why}`),
    refused: (_link, why) => events.push(`refused: ${why}`),
    peerGone: (edgeId) => gone.push(edgeId),
    unprovenError: () => undefined,
    certificateRefused: (_link, code) => events.push(`certificate refused: ${code}`),
  }
  const link = new SupernodeLink(SUPERNODE, host)
  link.tick(clock.now)
  const hello = sent.at(-1)!
  if (hello.type !== PacketType.Hello) throw new Error('no HELLO')
  link.onCookie({ type: PacketType.Cookie, clientNonce: hello.clientNonce, cookie: Buffer.alloc(20), reflexive: { family: 4, address: '127.0.0.1', port: 5000 }, serverTimeMs: Date.UTC(2026, 0, 1) })
  link.onRegisterAck({ type: PacketType.RegisterAck, edgeId: EDGE_ID, timestamp: 42, reflexive: { family: 4, address: '127.0.0.1', port: 5000 }, overlay: null, keepaliveSeconds: 20, serverTimeMs: Date.UTC(2026, 0, 1) })
  return { link, sent, events, gone, clock }
}

function error(code: ErrorCode, proof: Buffer, subject: Buffer = NO_SUBJECT): ErrorPacket {
  return { type: PacketType.Error, code, proof, subject }
}

function lastKeepaliveSeq(h: Harness): number {
  const k = h.sent.findLast((p) => p.type === PacketType.Keepalive)
  if (k === undefined || k.type !== PacketType.Keepalive) throw new Error('no keepalive sent')
  return k.seq
}

function registerNonce(h: Harness): Buffer {
  const r = h.sent.findLast((p) => p.type === PacketType.Register)
  if (r === undefined || r.type !== PacketType.Register) throw new Error('no REGISTER sent')
  return r.clientNonce
}

t.test('keepalive sequences start at a random 48-bit value per registration', (t) => {
  const starts = new Set<number>()
  for (let i = 0; i < 20; i++) {
    const h = registeredLink()
    h.clock.now += 10_000
    h.link.tick(h.clock.now)
    const seq = lastKeepaliveSeq(h)
    t.ok(seq >= 1 && seq <= KEEPALIVE_SEQ_START_LIMIT, `within 1 … 2^48: ${seq}`)
    starts.add(seq)
  }
  t.equal(starts.size, 20, 'twenty registrations, twenty different starts')
  t.end()
})

t.test('spoofed ERRORs with what an off-path sender knows change nothing', (t) => {
  const h = registeredLink()
  h.clock.now += 10_000
  h.link.tick(h.clock.now)
  const seq = lastKeepaliveSeq(h)
  const guesses = [u53Bytes(EDGE_ID), ...Array.from({ length: 1000 }, (_, i) => u53Bytes(i + 1)), Buffer.alloc(8, 0xff), u53Bytes(seq - 1), u53Bytes(seq + 1)]
  let spoofed = 0
  for (const code of Object.values(ErrorCode)) {
    for (const proof of guesses) {
      h.link.onError(error(code, proof, u53Bytes(EDGE_ID)))
      spoofed++
    }
  }
  t.equal(h.link.state, 'registered', `still registered after ${spoofed} spoofed ERRORs (every code, the edge ID, sequences 1 to 1000 and next to the real one)`)
  t.same(h.events, ['registered'], 'nothing lost, nothing refused')
  t.same(h.gone, [], 'no peer forgotten')
  t.equal(h.link.unprovenErrors, spoofed, 'each one counted as unproven')
  t.end()
})

t.test('an ERROR without proof is a hint: one keepalive checks it, at most once a second', (t) => {
  const h = registeredLink()
  h.clock.now += 10_000
  h.link.tick(h.clock.now)
  const keepalives = (): number => h.sent.filter((p) => p.type === PacketType.Keepalive).length
  const before = keepalives()
  for (let i = 0; i < 50; i++) h.link.onError(error(ErrorCode.UnknownEdge, NO_PROOF, u53Bytes(EDGE_ID)))
  t.equal(keepalives(), before + 1, '50 hints in the same instant: one keepalive')
  t.equal(h.link.state, 'registered', 'a hint changes no state')
  h.clock.now += HINT_CHECK_MS
  h.link.onError(error(ErrorCode.UnknownEdge, NO_PROOF, u53Bytes(EDGE_ID)))
  t.equal(keepalives(), before + 2, 'a second later, another')
  // the supernode really forgot us: its answer to that keepalive proves it
  h.link.onError(error(ErrorCode.UnknownEdge, u53Bytes(lastKeepaliveSeq(h)), u53Bytes(EDGE_ID)))
  t.equal(h.link.state, 'hello', 'the answer to our own keepalive makes us register again')
  t.match(h.events, ['registered', /^lost: supernode says unknown-edge/])
  t.end()
})

t.test("the supernode's real answers still work", (t) => {
  t.test('unknown-edge answering our keepalive: register again at once', (t) => {
    const h = registeredLink()
    h.clock.now += 10_000
    h.link.tick(h.clock.now)
    h.link.onError(error(ErrorCode.UnknownEdge, u53Bytes(lastKeepaliveSeq(h)), u53Bytes(EDGE_ID)))
    t.equal(h.link.state, 'hello')
    h.link.tick(h.clock.now)
    t.equal(h.sent.at(-1)!.type, PacketType.Hello, 'a HELLO goes out on the next tick')
    t.end()
  })
  t.test("unknown-peer proved by our registration's nonce: the peer is forgotten", (t) => {
    const h = registeredLink()
    h.link.onError(error(ErrorCode.UnknownPeer, u53Bytes(1), u53Bytes(777)))
    t.same(h.gone, [], 'not with a guessed proof')
    h.link.onError(error(ErrorCode.UnknownPeer, registerNonce(h), u53Bytes(777)))
    t.same(h.gone, [777])
    t.end()
  })
  t.test('a refused REGISTER, proved by its client nonce', (t) => {
    const h = registeredLink()
    h.link.reregister()
    h.link.tick(h.clock.now)
    const hello = h.sent.at(-1)!
    if (hello.type !== PacketType.Hello) return t.fail('no HELLO')
    h.link.onCookie({ type: PacketType.Cookie, clientNonce: hello.clientNonce, cookie: Buffer.alloc(20), reflexive: { family: 4, address: '127.0.0.1', port: 5000 }, serverTimeMs: Date.UTC(2026, 0, 1) })
    t.equal(h.link.state, 'registering')
    h.link.onError(error(ErrorCode.AddressFull, u53Bytes(EDGE_ID)))
    t.equal(h.link.state, 'registering', 'not with the edge ID as proof')
    h.link.onError(error(ErrorCode.AddressFull, registerNonce(h)))
    t.equal(h.link.state, 'hello')
    t.match(h.events, ['registered', 'refused: address-full'])
    t.end()
  })
  t.test('rate-limited, proved by the sequence of our keepalive: back off', (t) => {
    const h = registeredLink()
    h.clock.now += 10_000
    h.link.tick(h.clock.now)
    const count = h.sent.length
    h.link.onError(error(ErrorCode.RateLimited, u53Bytes(lastKeepaliveSeq(h))))
    h.clock.now += 3_500
    h.link.tick(h.clock.now)
    t.equal(h.sent.length, count, 'no keepalive retry 3.5 s later')
    t.equal(h.link.state, 'registered')
    t.end()
  })
  t.end()
})
