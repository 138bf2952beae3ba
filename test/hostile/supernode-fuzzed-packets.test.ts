// The supernode itself (not only its codec) fed mutated packets from its members' own endpoints,
// where they pass the cookie check and reach the certificate, holder, revocation and relay code:
// no exception escapes, every datagram is counted (handled or dropped by reason), the registry's
// indexes stay consistent (every edge in its community, each MAC and address pointing at its
// holder, nothing left of a removed edge), and afterwards it still registers and relays.
import t from 'tap'
import type { Supernode } from '../../src/supernode/supernode.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { OLD_WIRE_VERSION, PacketType, decodePacket, encodeDeregister, encodeHello, encodeKeepalive, encodePeerQuery, encodeRegister } from '../../src/wire/index.js'
import { mutator } from '../fixtures/mutate.js'
import { prng } from '../fixtures/prng.js'
import { allSamples } from '../fixtures/sample-packets.js'
import { TestAuthority, sessionRelay, type AnnouncingMember } from '../fixtures/supernode-members.js'
import { supernodeInMemory } from '../fixtures/supernode-start.js'

const SEED = 0x5e12
const ROUNDS = 20_000
const MEMBERS = 6

/** What must hold between the registry's tables whatever it was fed. */
function indexProblems(node: Supernode): string[] {
  const problems: string[] = []
  const registry = node.registry
  let members = 0
  for (const community of registry.communities.values()) {
    if (community.members.size === 0) problems.push(`community ${community.idHex} is empty`)
    members += community.members.size
    for (const [id, edge] of community.members) if (registry.edges.get(id) !== edge) problems.push(`member ${id} is not the registered edge`)
    for (const [key, edge] of community.byMac) if (registry.edges.get(edge.edgeId) !== edge || edge.macKey !== key) problems.push(`MAC index ${key} points at a stale edge`)
    for (const [key, edge] of community.byIp) if (registry.edges.get(edge.edgeId) !== edge || edge.ipKey !== key) problems.push(`IPv4 index ${key} points at a stale edge`)
    for (const [key, edge] of community.byIp6) if (registry.edges.get(edge.edgeId) !== edge || edge.ip6Key !== key) problems.push(`IPv6 index ${key} points at a stale edge`)
  }
  if (members !== registry.edges.size) problems.push(`${registry.edges.size} edges but ${members} community members`)
  for (const edge of registry.edges.values()) {
    const c = edge.community
    if (c.byMac.get(edge.macKey) !== edge || c.byIp.get(edge.ipKey) !== edge) problems.push(`edge ${edge.edgeId} is not indexed by its MAC and address`)
  }
  return problems
}

t.test(`${ROUNDS} mutated packets from members' endpoints: nothing thrown, all counted, indexes consistent`, async (t) => {
  const clock = new ManualClock(Date.now())
  const { node, receive } = await supernodeInMemory(t, {}, clock)
  const random = prng(SEED)
  const int = (n: number): number => Math.floor(random() * n)
  const community = new TestAuthority()
  const members: (AnnouncingMember & { address: string; cookie: Buffer })[] = []
  const nonce = Buffer.alloc(8, 3)
  for (let i = 0; i < MEMBERS; i++) {
    const member = community.issue(i % 2 === 0 ? { ipv6: { address: `fd00:9::${i + 1}`, prefix: 64 } } : {})
    const address = `127.0.1.${i + 1}`
    const cookie = decodePacket(receive(encodeHello(nonce), address, 4000)!)
    if (!cookie.ok || cookie.value.type !== PacketType.Cookie) return t.fail('no cookie')
    members.push({ ...member, address, cookie: cookie.value.cookie })
    t.equal(receive(encodeRegister(nonce, cookie.value.cookie, member.announce()), address, 4000)?.[1], PacketType.RegisterAck)
  }
  // what members send, valid: registrations (fresh, another member's MAC and address), queries,
  // keepalives, relays, deregistrations, revocations, v1 packets; and every sample of the codec.
  // Identities live in guarded memory: the claimants and revocations are made once, not per round.
  const claimants = members.map((other) => community.issue({ mac: other.decoded.mac, ipv4: other.decoded.ipv4 }))
  const revocations = Array.from({ length: 20 }, () => community.revoke(community.issue()))
  const base = (m: (typeof members)[number], other: (typeof members)[number], i: number): Buffer => {
    switch (i) {
      case 0:
        return encodeRegister(nonce, m.cookie, m.announce())
      case 1:
        return encodeRegister(nonce, m.cookie, claimants[int(MEMBERS)]!.announce())
      case 2:
        return encodePeerQuery(m.edgeId, { kind: 'edge', edgeId: other.edgeId })
      case 3:
        return encodeKeepalive(PacketType.Keepalive, m.edgeId, 1 + int(1000))
      case 4:
        return sessionRelay(m.edgeId, other.edgeId, 1 + int(1000))
      case 5:
        return sessionRelay(m.edgeId, 0, 1 + int(1000))
      case 6:
        return encodeDeregister(m.edgeId, Date.now(), Buffer.alloc(64, 1))
      case 7:
        return revocations[int(revocations.length)]!
      default:
        return Buffer.from([OLD_WIRE_VERSION, ...encodeHello(nonce).subarray(1)])
    }
  }
  const samples = [...allSamples().values()]
  const mutate = mutator(random, { junkMax: 40, edgeValues: [0, 1, 2, 4, 31, 32, 33, 127, 128, 255], typeByte: () => samples[int(samples.length)]![1]!, others: samples })
  let thrown = 0
  for (let round = 0; round < ROUNDS; round++) {
    const m = members[int(MEMBERS)]!
    const valid = random() < 0.8 ? base(m, members[int(MEMBERS)]!, int(9)) : samples[int(samples.length)]!
    const packet = random() < 0.25 ? valid : mutate(valid)
    try {
      receive(packet, m.address, 4000)
    } catch (err) {
      thrown++
      if (thrown <= 3) t.fail(`round ${round}: ${(err as Error).stack}`)
    }
    // time moves: certificates, silence and cookies age while it runs
    if (round % 500 === 499) clock.jump(1000)
  }
  t.equal(thrown, 0, 'no exception escaped the supernode')
  t.same(indexProblems(node), [], 'the registry indexes are consistent')
  const drops = Object.values(node.drops).reduce((a, b) => a + b, 0)
  t.comment(`${node.counters.packetsIn} datagrams: ${node.counters.registrations} registrations, ${node.counters.relayFramesIn} relayed in, ${drops} dropped; ${node.registry.edges.size} edges left`)
  t.ok(drops > ROUNDS / 4, `most mutations were refused and counted (${drops})`)

  // and it still works: a new member registers, and relays to an old one that is still there
  const fresh = community.issue()
  const cookie = decodePacket(receive(encodeHello(nonce), '127.0.2.1', 5000)!)
  if (!cookie.ok || cookie.value.type !== PacketType.Cookie) return t.fail('no cookie')
  t.equal(receive(encodeRegister(nonce, cookie.value.cookie, fresh.announce()), '127.0.2.1', 5000)?.[1], PacketType.RegisterAck, 'a fresh member registers')
  const peer = [...node.registry.edges.values()].find((e) => e.edgeId !== fresh.edgeId && e.community.idHex === community.communityId.toString('hex'))
  if (peer !== undefined) {
    const before = node.counters.relayedFrames
    receive(sessionRelay(fresh.edgeId, peer.edgeId, 1), '127.0.2.1', 5000)
    t.equal(node.counters.relayedFrames, before + 1, 'and its frame is relayed to a member still there')
  }
  t.same(indexProblems(node), [])
})
