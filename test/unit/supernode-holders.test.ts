// Who holds a MAC or an overlay address in the registry (protocol v2): holders are keyed by member
// key (the edge ID is its hash). Another key never takes a live holder's MAC, IPv4 or IPv6 (the
// v1 "same MAC is the same device" and "same public address" shortcuts are gone: they let a member
// evict the device); only a holder silent for silentAfterMs can be replaced. The same key takes its
// own place at once, from anywhere, with a newer announcement. Certificates end at their notAfter.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Registry } from '../../src/supernode/registry.js'
import { ErrorCode } from '../../src/wire/index.js'
import { newClaim, newEdgeId, registerClaim, testLimits } from '../fixtures/member-claims.js'

const LIMITS = testLimits(100)
const COMMUNITY = Buffer.alloc(16, 0x33)
const SILENT_MS = 25_000

t.test("another key claiming a live holder's MAC, then its IPv4, then its IPv6, then all: refused, the holder stays", (t) => {
  const registry = new Registry(LIMITS)
  const device = newClaim({ ipv6: { address: 'fd00:9::1', prefix: 64 } })
  const deviceId = newEdgeId()
  t.ok(registerClaim(registry, { edgeId: deviceId, communityId: COMMUNITY, claim: device, address: '192.0.2.1', port: 1 }).ok)
  const attempts = [
    ['MAC', newClaim({ mac: device.mac }), ErrorCode.MacInUse],
    ['IPv4', newClaim({ ipv4: device.ipv4 }), ErrorCode.AddressInUse],
    ['IPv6', newClaim({ ipv6: device.ipv6 }), ErrorCode.AddressInUse],
    ['MAC and addresses', newClaim({ mac: device.mac, ipv4: device.ipv4, ipv6: device.ipv6 }), ErrorCode.MacInUse],
  ] as const
  // the newcomer comes from the device's own public address and port range, and 10 s after the device was last heard: no shortcut applies
  for (const [what, claim, code] of attempts) {
    const outcome = registerClaim(registry, { edgeId: newEdgeId(), communityId: COMMUNITY, claim, address: '192.0.2.1', port: 2, now: SILENT_MS - 1 })
    t.same(outcome, { ok: false, code }, `${what}: refused`)
  }
  const holder = registry.edges.get(deviceId)
  t.ok(holder !== undefined && registry.communities.get(COMMUNITY.toString('hex'))!.byMac.get(holder.macKey) === holder, 'the device still holds its MAC')
  t.equal(registry.edges.size, 1, 'nobody else registered')
  t.end()
})

t.test('a refused claim removes nobody: a silent MAC holder stays when the IPv4 holder is live', (t) => {
  const registry = new Registry(LIMITS)
  const a = newClaim()
  const b = newClaim()
  const aId = newEdgeId()
  const bId = newEdgeId()
  registerClaim(registry, { edgeId: aId, communityId: COMMUNITY, claim: a, address: '192.0.2.1', port: 1, now: 0 })
  registerClaim(registry, { edgeId: bId, communityId: COMMUNITY, claim: b, address: '192.0.2.2', port: 1, now: SILENT_MS })
  // at 30 s, a is silent (30 s) and b is live (5 s): a's MAC with b's address is refused and a stays
  const outcome = registerClaim(registry, { edgeId: newEdgeId(), communityId: COMMUNITY, claim: newClaim({ mac: a.mac, ipv4: b.ipv4 }), address: '192.0.2.3', port: 1, now: 30_000 })
  t.same(outcome, { ok: false, code: ErrorCode.AddressInUse })
  t.ok(registry.edges.has(aId) && registry.edges.has(bId), 'both holders are still registered')
  t.end()
})

t.test('a holder silent for silentAfterMs is replaced by another key; not a millisecond before', (t) => {
  const registry = new Registry(LIMITS)
  const device = newClaim()
  const deviceId = newEdgeId()
  registerClaim(registry, { edgeId: deviceId, communityId: COMMUNITY, claim: device, address: '192.0.2.1', port: 1, now: 0 })
  const newcomer = newClaim({ mac: device.mac, ipv4: device.ipv4 })
  const newcomerId = newEdgeId()
  t.same(registerClaim(registry, { edgeId: newcomerId, communityId: COMMUNITY, claim: newcomer, address: '192.0.2.9', port: 1, now: SILENT_MS - 1 }), { ok: false, code: ErrorCode.MacInUse }, 'at 24.999 s: refused')
  const outcome = registerClaim(registry, { edgeId: newcomerId, communityId: COMMUNITY, claim: newcomer, address: '192.0.2.9', port: 1, now: SILENT_MS })
  t.ok(outcome.ok, 'at 25 s of silence: replaced')
  t.notOk(registry.edges.has(deviceId), 'the silent holder is gone')
  t.equal(registry.sources.edgesAt('192.0.2.1', 1), 0, 'with its endpoint released')
  t.end()
})

t.test('the same key takes its own place at once from a new address with a newer announcement; a replay from elsewhere is stale', (t) => {
  const registry = new Registry(LIMITS)
  const edgeId = newEdgeId()
  const first = newClaim({ timestamp: 1000 })
  registerClaim(registry, { edgeId, communityId: COMMUNITY, claim: first, address: '192.0.2.1', port: 1, now: 0 })
  const replayed = registerClaim(registry, { edgeId, communityId: COMMUNITY, claim: first, address: '198.51.100.7', port: 9, now: 1 })
  t.same(replayed, { ok: false, code: ErrorCode.StaleRecord }, 'its announcement re-sent from another address: stale-record')
  t.same(registerClaim(registry, { edgeId, communityId: COMMUNITY, claim: { ...first, timestamp: 999 }, address: '192.0.2.1', port: 1, now: 1 }), { ok: false, code: ErrorCode.StaleRecord }, 'an older one: stale-record')
  // restarted with its persisted identity, behind another NAT, 1 s later: no wait for silence
  const restarted = registerClaim(registry, { edgeId, communityId: COMMUNITY, claim: { ...first, timestamp: 2000 }, address: '203.0.113.5', port: 4000, now: 1000 })
  t.ok(restarted.ok && !restarted.isNew, 'the same holder, moved at once')
  t.equal(registry.edges.get(edgeId)?.address, '203.0.113.5')
  t.equal(registry.sources.edgesAt('192.0.2.1', 1), 0, 'the old endpoint is released')
  t.end()
})

t.test('a certificate without IPv4 gets an address of the community subnet, kept across re-registrations', (t) => {
  const registry = new Registry(LIMITS)
  registerClaim(registry, { edgeId: newEdgeId(), communityId: COMMUNITY, claim: newClaim({ ipv4: { address: '10.7.0.1', prefix: 24 } }), address: '192.0.2.1', port: 1 })
  const edgeId = newEdgeId()
  const claim = newClaim({ ipv4: null })
  const outcome = registerClaim(registry, { edgeId, communityId: COMMUNITY, claim, address: '192.0.2.2', port: 1 })
  if (!outcome.ok) return t.fail('refused')
  t.match(outcome.edge.overlay, { prefix: 24, address: /^10\.7\.0\.\d+$/ }, `assigned ${outcome.edge.overlay.address} in the first member's /24`)
  const again = registerClaim(registry, { edgeId, communityId: COMMUNITY, claim: { ...claim, timestamp: 2000 }, address: '192.0.2.2', port: 1 })
  t.equal(again.ok && again.edge.overlay.address, outcome.edge.overlay.address, 'the same address again')
  t.end()
})

t.test('certificates end at notAfter: expireCertificates removes exactly the ended ones, in any order of registration', (t) => {
  const registry = new Registry(LIMITS)
  const ends = [500, 100, 300, 100, 400, 200]
  const ids = ends.map((notAfter, i) => {
    const edgeId = newEdgeId()
    registerClaim(registry, { edgeId, communityId: COMMUNITY, claim: newClaim({ notAfter }), address: `192.0.2.${i + 1}`, port: 1 })
    return edgeId
  })
  // one of them re-registers with a longer certificate: it moves in the queue
  const moved = ids[1]!
  const edge = registry.edges.get(moved)!
  registerClaim(registry, { edgeId: moved, communityId: COMMUNITY, claim: newClaim({ mac: Buffer.from([2, 9, 9, 9, 9, 9]), notAfter: 600, timestamp: 5000 }), address: edge.address, port: edge.port })
  t.same(registry.expireCertificates(99).map((e) => e.notAfter), [], 'nothing before 100')
  t.same(registry.expireCertificates(100).map((e) => e.notAfter), [100], 'at 100: the one still ending then')
  t.same(registry.expireCertificates(350).map((e) => e.notAfter), [200, 300], 'a jump to 350: both due, in order')
  registry.remove(registry.edges.get(ids[4]!)!) // deregistered before its end
  t.same(registry.expireCertificates(10_000).map((e) => e.notAfter), [500, 600])
  t.equal(registry.edges.size, 0)
  t.end()
})

t.test('findByFingerprint finds the member of that community only', (t) => {
  const registry = new Registry(LIMITS)
  const claim = newClaim()
  const edgeId = newEdgeId()
  registerClaim(registry, { edgeId, communityId: COMMUNITY, claim, address: '192.0.2.1', port: 1 })
  t.equal(registry.findByFingerprint(COMMUNITY.toString('hex'), claim.fingerprint)?.edgeId, edgeId)
  t.equal(registry.findByFingerprint('00'.repeat(16), claim.fingerprint), undefined, 'another community: none')
  t.end()
})

t.test('the same key registering into another community leaves the first: one registration per key', (t) => {
  const registry = new Registry(LIMITS)
  const edgeId = newEdgeId()
  const other = Buffer.alloc(16, 0x44)
  registerClaim(registry, { edgeId, communityId: COMMUNITY, claim: newClaim({ timestamp: 1000 }), address: '192.0.2.1', port: 1 })
  registerClaim(registry, { edgeId: newEdgeId(), communityId: COMMUNITY, claim: newClaim(), address: '192.0.2.2', port: 1 })
  const moved = registerClaim(registry, { edgeId, communityId: other, claim: newClaim({ timestamp: 2000 }), address: '192.0.2.1', port: 1 })
  t.ok(moved.ok && moved.isNew, 'admitted to the other community as a new member')
  t.equal(registry.communities.get(COMMUNITY.toString('hex'))?.members.size, 1, 'gone from the first')
  t.equal(registry.communities.get(other.toString('hex'))?.members.get(edgeId), registry.edges.get(edgeId))
  t.equal(registry.edges.size, 2)
  t.equal(registry.sources.edgesAt('192.0.2.1', 1), 1, 'its endpoint counted once')
  t.same(registry.expireCertificates(3_000_000_000).length, 2, 'each edge once in the certificate-end queue')
  t.end()
})

t.test('a member registering again from where it is: its entry is refreshed in place; a renewed certificate ends at its new notAfter; a changed address goes the full way', (t) => {
  const registry = new Registry(LIMITS)
  const first = newClaim({ notAfter: 100 })
  const id = newEdgeId()
  registerClaim(registry, { edgeId: id, communityId: COMMUNITY, claim: first, address: '192.0.2.1', port: 1, now: 0 })
  const entry = registry.edges.get(id)!
  // the same certificate's claims, a newer announcement, a renewed notAfter
  const again = { ...first, announcement: randomBytes(300), timestamp: 2000, notAfter: 200, name: 'renamed' }
  const outcome = registerClaim(registry, { edgeId: id, communityId: COMMUNITY, claim: again, address: '192.0.2.1', port: 1, now: 5_000 })
  t.ok(outcome.ok && outcome.edge === entry && !outcome.isNew, 'the same entry, not a new member')
  t.ok(entry.announcement.equals(again.announcement) && entry.announcement !== again.announcement, 'the newer announcement, copied')
  t.match(entry, { timestamp: 2000, notAfter: 200, name: 'renamed', lastSeen: 5_000 })
  t.same(registry.expireCertificates(150), [], 'not ended at the old notAfter')
  t.same(registry.expireCertificates(200).map((e) => e.edgeId), [id], 'ended at the new one')

  // a new overlay address for the same key: re-indexed, the old address free
  const b = newClaim()
  const bId = newEdgeId()
  registerClaim(registry, { edgeId: bId, communityId: COMMUNITY, claim: b, address: '192.0.2.2', port: 1, now: 0 })
  const moved = { ...b, announcement: randomBytes(300), timestamp: 3000, ipv4: { address: '10.9.200.1', prefix: 16 } }
  t.ok(registerClaim(registry, { edgeId: bId, communityId: COMMUNITY, claim: moved, address: '192.0.2.2', port: 1, now: 1_000 }).ok)
  const community = registry.communities.get(COMMUNITY.toString('hex'))!
  t.equal(registry.findByIp(community, Buffer.from([10, 9, 200, 1]))?.edgeId, bId, 'found at its new address')
  t.equal(registry.findByIp(community, Buffer.from(b.ipv4!.address.split('.').map(Number))), undefined, 'not at the old one')
  t.end()
})
