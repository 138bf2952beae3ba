// The v2 peer table: a peer is what its verified certificate says; the MAC and addresses a peer
// with a ready session holds are never taken by another key; a newer certificate of the same key
// replaces the old one; an expired or revoked certificate ends its session (keys erased, replay
// state kept until its notAfter).
import t from 'tap'
import { edgeIdOf } from '../../src/crypto/keys.js'
import type { PairSession, PairSessionState } from '../../src/crypto/noise-session.js'
import { edgeCounters } from '../../src/edge/counters.js'
import { MAX_PEERS, PeerTable, type Peer, type PeerRemoval } from '../../src/edge/peers.js'
import { edgeDropCounters } from '../../src/edge/reasons.js'
import type { Certificate } from '../../src/wire/index.js'
import { macKeyAt } from '../../src/wire/index.js'
import { mac } from '../fixtures/frames.js'
import { inertPathActions } from '../fixtures/path-actions.js'
import { TestAuthority } from '../fixtures/test-authority.js'

const NOW_S = 1_800_000_000
const NOW = NOW_S * 1000

/** A session as the table sees it: a state the test sets, and whether it was forgotten (and until when). */
class FakeSession {
  state: PairSessionState = 'idle'
  forgottenUntil: number | null = null
}

function setup(ownFields = { macByte: 1 }): {
  ca: TestAuthority
  table: PeerTable
  sessions: Map<string, FakeSession>
  removed: { peer: Peer; why: PeerRemoval }[]
  drops: ReturnType<typeof edgeDropCounters>
  counters: ReturnType<typeof edgeCounters>
  sessionOf: (peer: Peer) => FakeSession
} {
  const ca = new TestAuthority(NOW_S)
  const own = ca.member(ownFields)
  const counters = edgeCounters()
  const drops = edgeDropCounters()
  const sessions = new Map<string, FakeSession>()
  const removed: { peer: Peer; why: PeerRemoval }[] = []
  const actions = inertPathActions(counters)
  const peerSessions = {
    open(certificate: Certificate): PairSession {
      const key = certificate.memberKey.toString('hex')
      let session = sessions.get(key)
      if (session === undefined) sessions.set(key, (session = new FakeSession()))
      return session as unknown as PairSession
    },
    forget(session: PairSession, until: number): void {
      ;(session as unknown as FakeSession).forgottenUntil = until
    },
  }
  const table = new PeerTable(actions, counters, drops, peerSessions, own.verified.certificate, (peer, why) => removed.push({ peer, why }))
  return { ca, table, sessions, removed, drops, counters, sessionOf: (peer) => peer.session as unknown as FakeSession }
}

function admitted(result: Peer | string): Peer {
  if (typeof result === 'string') throw new Error(`refused: ${result}`)
  return result
}

t.test('a peer is its certificate: edge ID from its key, found by MAC and by session', (t) => {
  const { ca, table } = setup()
  const m = ca.member({ macByte: 2, name: 'Anna' })
  const peer = admitted(table.admit(m.verified, NOW, 100))
  t.equal(peer.edgeId, edgeIdOf(m.identity.publicKey))
  t.equal(table.byMacKey(macKeyAt(mac(2), 0)), peer)
  t.equal(table.ofSession(peer.session), peer)
  t.equal(peer.identity.certificate.name, 'Anna')
  t.equal(peer.identity.notAfterMs, (NOW_S + 3600) * 1000)
  t.equal(admitted(table.admit(m.verified, NOW, 101)), peer, 'the same certificate again: the same peer')
  t.equal(admitted(table.admit(m.verified, NOW, 101)), peer, 'the same announcement again (the answer to a new query): the same peer')
  t.equal(table.admit(m.verified, NOW, 50), 'stale-certificate', 'an older announcement of it')
  t.end()
})

t.test('another key claiming a live peer’s MAC or address is refused; the holder stays', (t) => {
  const { ca, table, sessionOf, removed } = setup()
  const device = admitted(table.admit(ca.member({ macByte: 2 }).verified, NOW, 1))
  sessionOf(device).state = 'ready'
  t.equal(table.admit(ca.member({ mac: mac(2), ipv4: { address: '10.9.0.50', prefix: 24 } }).verified, NOW, 1), 'mac-in-use', 'its MAC, another address')
  t.equal(table.admit(ca.member({ macByte: 50, ipv4: { address: '10.9.0.2', prefix: 24 } }).verified, NOW, 1), 'address-in-use', 'its IPv4, another MAC')
  t.equal(table.admit(ca.member({ macByte: 2 }).verified, NOW, 1), 'mac-in-use', 'both')
  t.equal(table.byMacKey(macKeyAt(mac(2), 0)), device, 'the MAC still leads to the device')
  t.same(removed, [], 'nobody removed')
  t.equal(table.size, 1)
  t.end()
})

t.test('our own MAC and address are never a peer’s', (t) => {
  const { ca, table } = setup()
  t.equal(table.admit(ca.member({ macByte: 1, ipv4: { address: '10.9.0.60', prefix: 24 } }).verified, NOW), 'mac-in-use')
  t.equal(table.admit(ca.member({ macByte: 60, ipv4: { address: '10.9.0.1', prefix: 24 } }).verified, NOW), 'address-in-use')
  t.equal(table.size, 0)
  t.end()
})

t.test('a holder without a ready session gives its place up to another key', (t) => {
  const { ca, table, sessionOf, removed } = setup()
  const old = admitted(table.admit(ca.member({ macByte: 2 }).verified, NOW, 1))
  const newcomer = admitted(table.admit(ca.member({ macByte: 2 }).verified, NOW, 1))
  t.not(newcomer, old)
  t.equal(table.byMacKey(macKeyAt(mac(2), 0)), newcomer)
  t.same(removed.map((r) => [r.peer, r.why]), [[old, 'replaced']])
  t.equal(sessionOf(old).forgottenUntil, old.identity.notAfterMs, 'its session forgotten, replay state kept until its notAfter')
  t.end()
})

t.test('a newer certificate of the same key replaces the old one at once, even while live', (t) => {
  const { ca, table, sessionOf } = setup()
  const m = ca.member({ macByte: 2 })
  const peer = admitted(table.admit(m.verified, NOW, 1))
  sessionOf(peer).state = 'ready'
  const reissued = ca.member({ macByte: 2, ipv4: { address: '10.9.0.7', prefix: 24 } }, m.identity)
  t.equal(admitted(table.admit(reissued.verified, NOW, 2)), peer, 'the same peer')
  t.ok(peer.identity.fingerprint.equals(reissued.verified.fingerprint), 'now bound by the new certificate')
  t.equal(table.admit(ca.member({ macByte: 70, ipv4: { address: '10.9.0.7', prefix: 24 } }).verified, NOW, 1), 'address-in-use', 'its new address is held')
  const other = admitted(table.admit(ca.member({ macByte: 71, ipv4: { address: '10.9.0.2', prefix: 24 } }).verified, NOW, 1))
  t.equal(other.identity.binding.ipv4, 0x0a090002, 'its old address is free for another member')
  const older = ca.member({ macByte: 2, notBefore: NOW_S - 10 }, m.identity)
  t.equal(table.admit(older.verified, NOW, null), 'stale-certificate', 'an older certificate of it (notBefore before the held one’s)')
  t.end()
})

t.test('expiry by our clock and revocation end a peer’s session; both counted', (t) => {
  const { ca, table, sessionOf, counters, removed } = setup()
  const shortLived = admitted(table.admit(ca.member({ macByte: 2, notAfter: NOW_S + 10 }).verified, NOW))
  const revoked = admitted(table.admit(ca.member({ macByte: 3 }).verified, NOW))
  const staying = admitted(table.admit(ca.member({ macByte: 4 }).verified, NOW))
  const revokedFingerprint = revoked.identity.fingerprint
  const isRevoked = (fp: Buffer): boolean => fp.equals(revokedFingerprint)
  t.equal(table.expire(NOW + 9_999, () => false), 0, 'before notAfter: nobody')
  t.equal(table.expire(NOW + 9_999, isRevoked), 1, 'the revoked one')
  t.equal(table.expire(NOW + 10_000, isRevoked), 1, 'at notAfter: the short-lived one')
  t.same(removed.map((r) => [r.peer, r.why]), [[revoked, 'revoked'], [shortLived, 'expired']])
  t.equal(counters.peersRevoked, 1)
  t.equal(counters.peersExpired, 1)
  t.equal(sessionOf(shortLived).forgottenUntil, (NOW_S + 10) * 1000)
  t.equal(table.get(staying.edgeId), staying)
  t.equal(table.byMacKey(macKeyAt(mac(2), 0)), undefined, 'the expired peer’s MAC is unbound')
  t.end()
})

t.test('frames waiting for a removed peer’s session are dropped and counted', (t) => {
  const { ca, table, drops, counters } = setup()
  const peer = admitted(table.admit(ca.member({ macByte: 2 }).verified, NOW))
  t.equal(peer.pending.hold(Buffer.alloc(100)), null)
  t.equal(peer.pending.hold(Buffer.alloc(100)), null)
  t.ok(counters.pendingBytes > 0)
  table.remove(peer, 'gone')
  t.equal(drops['peer-removed'], 2)
  t.equal(counters.pendingBytes, 0)
  t.end()
})

t.test('a full table makes room from peers without a ready session, never from live direct ones', (t) => {
  const { ca, table, sessionOf, counters } = setup()
  const first = admitted(table.admit(ca.member({ macByte: 2 }).verified, NOW))
  sessionOf(first).state = 'ready'
  const idle: Peer[] = []
  for (let i = 1; i < MAX_PEERS; i++) {
    const macBytes = Buffer.from([0x02, 0x10, 0, 0, i >> 8, i & 0xff])
    idle.push(admitted(table.admit(ca.member({ mac: macBytes, ipv4: { address: `10.10.${i >> 8}.${i & 0xff}`, prefix: 16 } }).verified, NOW + i)))
  }
  t.equal(table.size, MAX_PEERS)
  const late = admitted(table.admit(ca.member({ macByte: 3 }).verified, NOW + MAX_PEERS))
  t.equal(table.size, MAX_PEERS)
  t.equal(counters.peersEvicted, 1)
  t.equal(table.get(idle[0]!.edgeId), undefined, 'the least recently heard without a ready session went')
  t.equal(table.get(first.edgeId), first, 'the one with a ready session stayed')
  t.equal(table.get(late.edgeId), late)
  t.end()
})

t.test('a full table of ready sessions evicts peers met only by a handshake before those the supernode introduced', (t) => {
  const { ca, table, sessionOf } = setup()
  // the technician, introduced by the supernode (an announcement), on the relay, heard from long ago
  const technician = admitted(table.admit(ca.member({ macByte: 2 }).verified, NOW, 1))
  sessionOf(technician).state = 'ready'
  const minted: Peer[] = []
  for (let i = 1; i < MAX_PEERS; i++) {
    const macBytes = Buffer.from([0x02, 0x20, 0, 0, i >> 8, i & 0xff])
    const peer = admitted(table.admit(ca.member({ mac: macBytes, ipv4: null }).verified, NOW + i, null))
    sessionOf(peer).state = 'ready'
    minted.push(peer)
  }
  admitted(table.admit(ca.member({ macByte: 3 }).verified, NOW + MAX_PEERS, null))
  t.equal(table.get(technician.edgeId), technician, 'the introduced member stays')
  t.equal(table.get(minted[0]!.edgeId), undefined, 'the least recent identity met only by a handshake went')
  t.end()
})
