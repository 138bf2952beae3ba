// Where edges register from is bounded: edges per source endpoint, per source address (an IPv6
// /64 counting as one address) and in all; and the relay budgets of a source or a community are
// not refilled by leaving and coming back.
import t from 'tap'
import { Registry } from '../../src/supernode/registry.js'
import { ErrorCode, macBytesOf } from '../../src/wire/index.js'
import { newClaim, newEdgeId, registerClaim, testLimits } from '../fixtures/member-claims.js'

const LIMITS = testLimits(6)

/** One more edge of the community `communityId`, with a MAC and address of its own, registering from address:port. */
function register(registry: Registry, communityId: Buffer, address: string, port: number): ReturnType<Registry['register']> {
  return registerClaim(registry, { edgeId: newEdgeId(), communityId, claim: newClaim(), address, port })
}

const codeOf = (outcome: ReturnType<Registry['register']>): string => (outcome.ok ? 'ok' : String(outcome.code))

t.test('edges per endpoint: the fifth from one address and port is refused (endpoint-full)', (t) => {
  const registry = new Registry(LIMITS)
  const keys = Buffer.alloc(16, 1)
  const outcomes = Array.from({ length: 5 }, () => codeOf(register(registry, keys, '192.0.2.1', 5000)))
  t.same(outcomes, ['ok', 'ok', 'ok', 'ok', String(ErrorCode.EndpointFull)])
  t.equal(codeOf(register(registry, keys, '192.0.2.1', 5001)), 'ok', 'another port of the same address may')
  t.equal(registry.sources.edgesAt('192.0.2.1', 5000), 4)
  t.end()
})

t.test('edges per address: an IPv6 /64 counts as one address', (t) => {
  const registry = new Registry(LIMITS)
  const keys = Buffer.alloc(16, 2)
  // six hosts of one /64, each from its own port: the limit is 6
  for (let i = 1; i <= 6; i++) t.equal(codeOf(register(registry, keys, `2001:db8:1:2::${i}`, 6000 + i)), 'ok', `host ${i} of 2001:db8:1:2::/64`)
  t.equal(codeOf(register(registry, keys, '2001:db8:1:2:ffff:ffff:ffff:ffff', 7000)), String(ErrorCode.AddressFull), 'a seventh host of the same /64: address-full')
  t.equal(codeOf(register(registry, keys, '2001:db8:1:3::1', 7000)), 'ok', 'the next /64 is another source')
  t.equal(registry.sources.edgesFrom('2001:db8:1:2::/64'), 6)
  // IPv4 is per address
  for (let i = 1; i <= 6; i++) register(registry, keys, '198.51.100.1', 8000 + i)
  t.equal(codeOf(register(registry, keys, '198.51.100.1', 9000)), String(ErrorCode.AddressFull))
  t.equal(codeOf(register(registry, keys, '198.51.100.2', 9000)), 'ok')
  t.end()
})

t.test('edges in all: beyond maxEdges, supernode-full; a removed edge frees its slots', (t) => {
  const registry = new Registry({ ...LIMITS, maxEdges: 3 })
  const keys = Buffer.alloc(16, 3)
  const first = register(registry, keys, '192.0.2.10', 1)
  register(registry, keys, '192.0.2.11', 1)
  register(registry, keys, '192.0.2.12', 1)
  t.equal(codeOf(register(registry, keys, '192.0.2.13', 1)), String(ErrorCode.SupernodeFull))
  if (!first.ok) return t.fail('first edge refused')
  registry.remove(first.edge)
  t.equal(registry.sources.edgesAt('192.0.2.10', 1), 0, 'its endpoint is free again')
  t.equal(codeOf(register(registry, keys, '192.0.2.13', 1)), 'ok')
  t.end()
})

t.test('an edge that moves to another port of its address costs the new endpoint, not the address again', (t) => {
  const registry = new Registry({ ...LIMITS, maxEdgesPerAddress: 1 })
  const keys = Buffer.alloc(16, 4)
  const outcome = register(registry, keys, '192.0.2.20', 1000)
  if (!outcome.ok) return t.fail('refused')
  const edge = outcome.edge
  // the same edge, a newer announcement, from another port (its NAT moved it)
  const claim = newClaim({ mac: macBytesOf(edge.macKey), ipv4: edge.overlay, timestamp: 2000 })
  const moved = registerClaim(registry, { edgeId: edge.edgeId, communityId: keys, claim, address: '192.0.2.20', port: 2000 })
  t.ok(moved.ok, 'moved within its address although the address holds its maximum')
  t.equal(registry.sources.edgesAt('192.0.2.20', 1000), 0, 'the old endpoint is released')
  t.equal(registry.sources.edgesAt('192.0.2.20', 2000), 1)
  t.equal(registry.sources.edgesFrom('192.0.2.20'), 1)
  t.end()
})

t.test('relay budgets are not refilled by leaving and coming back', (t) => {
  const registry = new Registry(LIMITS)
  const keys = Buffer.alloc(16, 5)
  const outcome = register(registry, keys, '192.0.2.30', 1)
  if (!outcome.ok) return t.fail('refused')
  const { source, community } = outcome.edge
  t.ok(source.relayBudget.has(0, 100_000), 'a full burst at first')
  source.relayBudget.spend(100_000)
  community.relayBudget.spend(100_000)
  registry.remove(outcome.edge)
  t.equal(registry.communities.size, 0, 'the community is gone with its last member')
  const again = register(registry, keys, '192.0.2.30', 1)
  if (!again.ok) return t.fail('refused')
  t.notOk(again.edge.source.relayBudget.has(0, 2048), "the source's budget is still spent")
  t.notOk(again.edge.community.relayBudget.has(0, 2048), "the community's budget is still spent")
  t.ok(again.edge.source.relayBudget.has(1000, 10_000), 'and refills at its rate')
  t.end()
})
