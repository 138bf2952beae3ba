// A peer's candidates (src/edge/candidates.ts) are bounded and chosen in order of trust, and a LAN
// candidate counts only inside one of our own subnets (src/edge/own-subnets.ts).
import t from 'tap'
import { Candidates, MAX_CANDIDATES_PER_PEER, PEER_REFLEXIVE_KEEP_MS } from '../../src/edge/candidates.js'
import { OwnSubnets, checkLocalAddresses } from '../../src/edge/own-subnets.js'
import { endpointOf, type Endpoint } from '../../src/wire/index.js'

const OURS = new OwnSubnets([
  { address: '192.168.1.20', prefix: 24 },
  { address: '10.20.30.40', prefix: 16 },
  { address: '2001:db8:1::5', prefix: 64 },
])

function rules(subnets = OURS): { subnets: OwnSubnets; counters: { candidatesOverLimit: number; candidatesOffLan: number } } {
  return { subnets, counters: { candidatesOverLimit: 0, candidatesOffLan: 0 } }
}

function show(list: readonly Endpoint[]): string[] {
  return list.map((e) => `${e.address}:${e.port}`)
}

t.test('own subnets: hosts inside our interfaces\' subnets only, never their network or broadcast address', (t) => {
  t.ok(OURS.contains('192.168.1.77'), 'a host on our /24')
  t.ok(OURS.contains('10.20.200.1'), 'a host on our /16')
  t.ok(OURS.contains('2001:db8:1::99'), 'a host on our IPv6 /64')
  for (const outside of ['192.168.2.1', '10.21.0.1', '127.0.0.1', '8.8.8.8', '2001:db8:2::1', '::1', 'not-an-address']) t.notOk(OURS.contains(outside), `not ${outside}`)
  t.notOk(OURS.contains('192.168.1.0'), 'not the network address')
  t.notOk(OURS.contains('192.168.1.255'), 'not the broadcast address')
  t.notOk(OURS.contains('10.20.255.255'), "not the /16's broadcast address")
  t.notOk(new OwnSubnets([]).contains('192.168.1.77'), 'no subnets given: nothing is ours')
  t.ok(new OwnSubnets([{ address: '0.0.0.0', prefix: 0 }]).contains('8.8.8.8'), 'a /0 holds every address but its network and broadcast one')
  t.end()
})

t.test('localAddresses is checked, the error naming the field and the entry', (t) => {
  t.throws(() => checkLocalAddresses([{ address: '192.168.1.5', prefix: 24 }, { address: 'lan', prefix: 24 }]), /^localAddresses\[1\]: not an IP address: lan$/)
  t.throws(() => checkLocalAddresses([{ address: '192.168.1.5', prefix: 33 }]), /^localAddresses\[0\]: prefix must be 0 to 32: 33$/)
  t.throws(() => checkLocalAddresses([{ address: 'fd00::1', prefix: 129 }]), /prefix must be 0 to 128/)
  t.doesNotThrow(() => checkLocalAddresses([{ address: 'fd00::1', prefix: 64 }]))
  t.end()
})

t.test('LAN candidates outside our subnets are never candidates, and counted', (t) => {
  const r = rules()
  const c = new Candidates(r)
  const reflexive = endpointOf('203.0.113.7', 40000)
  c.fromSupernode(reflexive, [endpointOf('192.168.1.50', 7000), endpointOf('10.99.0.1', 53), endpointOf('127.0.0.1', 22), endpointOf('192.168.1.255', 7000)], null, 0)
  t.same(show(c.all), ['203.0.113.7:40000', '192.168.1.50:7000'], 'the reflexive endpoint, then the one LAN address on our LAN')
  t.equal(r.counters.candidatesOffLan, 3, 'three refused as off our LAN')
  const none = new Candidates(rules(new OwnSubnets([])))
  none.fromSupernode(reflexive, [endpointOf('192.168.1.50', 7000)], null, 0)
  t.same(show(none.all), ['203.0.113.7:40000'], 'an edge given no subnets probes no LAN candidate')
  t.end()
})

t.test('300 peer-reflexive sources: the first few become candidates, the rest are refused; never more than the bound', (t) => {
  const r = rules()
  const c = new Candidates(r)
  c.fromSupernode(endpointOf('203.0.113.7', 40000), [endpointOf('192.168.1.50', 7000)], null, 0)
  const verdicts = { new: 0, known: 0, refused: 0 }
  for (let port = 1000; port < 1300; port++) verdicts[c.addPeerReflexive(endpointOf('203.0.113.7', port), 10)]++
  t.equal(verdicts.new, MAX_CANDIDATES_PER_PEER - 2, 'new until the bound (reflexive and one LAN candidate hold two places)')
  t.equal(verdicts.refused, 300 - verdicts.new, 'the rest refused')
  t.equal(r.counters.candidatesOverLimit, verdicts.refused, 'and counted')
  t.equal(c.all.length, MAX_CANDIDATES_PER_PEER, `${MAX_CANDIDATES_PER_PEER} candidates`)
  t.equal(c.addPeerReflexive(endpointOf('203.0.113.7', 1000), 20), 'known', 'a source heard before is known, not refused')
  t.equal(c.addPeerReflexive(endpointOf('203.0.113.7', 40000), 20), 'known', 'so is the reflexive endpoint')
  t.same(show(c.all).slice(0, 2), ['203.0.113.7:40000', '203.0.113.7:1000'], 'reflexive first, peer-reflexive next, LAN last')
  t.equal(show(c.all).at(-1), '192.168.1.50:7000')
  t.end()
})

t.test('before the supernode\'s word, a place stays free for the reflexive endpoint', (t) => {
  const c = new Candidates(rules())
  for (let port = 1000; port < 1020; port++) c.addPeerReflexive(endpointOf('198.51.100.1', port), 0)
  t.equal(c.all.length, MAX_CANDIDATES_PER_PEER - 1, 'peer-reflexive ones take all but one place')
  c.fromSupernode(endpointOf('203.0.113.7', 40000), [endpointOf('192.168.1.50', 7000)], null, 100)
  t.equal(show(c.all)[0], '203.0.113.7:40000', 'the reflexive endpoint comes first')
  t.equal(c.all.length, MAX_CANDIDATES_PER_PEER, 'no LAN candidate fits beyond the bound')
  t.end()
})

t.test('a fresh attempt keeps peer-reflexive endpoints heard recently, and the direct one; older ones make room', (t) => {
  const r = rules()
  const c = new Candidates(r)
  const reflexive = endpointOf('203.0.113.7', 40000)
  c.fromSupernode(reflexive, [], null, 0)
  const direct = endpointOf('203.0.113.7', 1001)
  for (let port = 1000; port < 1300; port++) c.addPeerReflexive(endpointOf('203.0.113.7', port), 0)
  const later = PEER_REFLEXIVE_KEEP_MS + 1
  c.addPeerReflexive(endpointOf('203.0.113.7', 1005), later) // heard again just now
  c.fromSupernode(reflexive, [endpointOf('192.168.1.50', 7000)], direct, later)
  t.same(show(c.all), ['203.0.113.7:40000', '203.0.113.7:1001', '203.0.113.7:1005', '192.168.1.50:7000'], 'the reflexive, the direct endpoint, the one heard again, the LAN candidate')
  t.equal(c.addPeerReflexive(endpointOf('203.0.113.7', 5000), later), 'new', 'a NAT that moved the peer is heard again')
  t.end()
})

t.test('a peer on a WebSocket (PEER_INFO relay-only): no reflexive candidate, only its LAN endpoints inside our subnets', (t) => {
  const c = new Candidates(rules())
  c.fromSupernode(null, [endpointOf('192.168.1.50', 7000), endpointOf('10.99.0.1', 7000)], null, 0)
  t.same(show(c.all), ['192.168.1.50:7000'], 'nothing of the WebSocket connection is probed')
  t.end()
})
