// The memory bound the supernode states (memory-bound.ts) holds: the defaults fit 512 MiB, and what
// one entry really costs, measured on a supernode filled with worst-case edges (the largest
// announcement: a 64-byte name, IPv6, four candidates; each edge in a community and an IPv6 /64 of
// its own, its certificate in the supernode's certificate cache) through its real receive path,
// stays within the per-entry figures the bound is computed from.
import { randomBytes } from 'node:crypto'
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import t from 'tap'
import { DEFAULT_MEMORY_BOUND, MEMORY_COSTS, TRACKED_TABLES, memoryBound } from '../../src/supernode/memory-bound.js'
import { DEFAULT_SUPERNODE_CONFIG } from '../../src/supernode/supernode.js'
import { MAX_REVOCATIONS } from '../../src/crypto/index.js'
import { CERTIFICATE_CACHE_ENTRY_BYTES, CertificateCache } from '../../src/supernode/certificate-cache.js'
import { RevocationStore } from '../../src/supernode/revocation-store.js'
import { MAX_ANNOUNCEMENT_BYTES, MAX_CERTIFICATE_NAME_BYTES, PacketType, decodeCertificate, decodePacket, encodeHello, encodeRegister } from '../../src/wire/index.js'
import { TestAuthority } from '../fixtures/supernode-members.js'
import { supernodeInMemory } from '../fixtures/supernode-start.js'

const EDGES = 2000
const HELLO_SOURCES = 10_000

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Heap and external memory (record copies live outside the heap) once garbage is gone. */
function liveBytes(): number {
  gc()
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.external
}

/** The full-length IPv6 address of host i, alone in its /64. */
function sourceAddress(prefix: string, i: number): string {
  return `${prefix}:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}:aaaa:bbbb:cccc:dddd`
}

t.test('with the default limits the worst case fits the stated 512 MiB, the signature worker included (the CLI turns it on where there are two cores)', (t) => {
  const bound = memoryBound({ ...DEFAULT_SUPERNODE_CONFIG, signatureWorker: true })
  t.comment(`default bound ${(bound.bytes / 2 ** 20).toFixed(1)} MiB: ${bound.edges} edges, ${bound.communities} communities, ${bound.trackedKeys} tracked keys`)
  t.ok(bound.bytes <= DEFAULT_MEMORY_BOUND, `${bound.bytes} ≤ ${DEFAULT_MEMORY_BOUND}`)
  t.equal(bound.bytes - memoryBound(DEFAULT_SUPERNODE_CONFIG).bytes, MEMORY_COSTS.signatureWorkerBytes, 'the worker counted when on, not when off')
  t.equal(bound.edges, DEFAULT_SUPERNODE_CONFIG.maxEdges, 'edges are bounded by the total, not communities × edges per community (10 million)')
  t.equal(bound.trackedKeys, TRACKED_TABLES * DEFAULT_SUPERNODE_CONFIG.maxTrackedSources)
  t.end()
})

t.test('a certificate cache entry and a kept revocation cost no more than the bound counts', (t) => {
  const N = 4000
  const members = Array.from({ length: N }, () => {
    const decoded = decodeCertificate(new TestAuthority().issue({ name: 'n'.repeat(MAX_CERTIFICATE_NAME_BYTES) }).certificate)
    if (!decoded.ok) throw new Error(decoded.reason)
    return decoded.value
  })
  const cache = new CertificateCache(N)
  const nobodyRevoked = { isRevoked: () => false }
  const nowSeconds = Math.floor(Date.now() / 1000)
  const beforeCache = liveBytes()
  for (const certificate of members) if (!cache.check(certificate, nowSeconds, nobodyRevoked).ok) return t.fail('refused')
  const perEntry = (liveBytes() - beforeCache) / N
  t.comment(`measured ${perEntry.toFixed(0)} B per certificate cache entry; the bound counts ${CERTIFICATE_CACHE_ENTRY_BYTES} B`)
  t.ok(perEntry <= CERTIFICATE_CACHE_ENTRY_BYTES, `${perEntry.toFixed(0)} ≤ ${CERTIFICATE_CACHE_ENTRY_BYTES}`)

  const store = new RevocationStore(MAX_REVOCATIONS)
  const beforeStore = liveBytes()
  for (let i = 0; i < MAX_REVOCATIONS; i++) store.add((i % 64).toString(16).padStart(32, '0'), randomBytes(20).toString('hex'), nowSeconds + 3600, nowSeconds)
  const perRevocation = (liveBytes() - beforeStore) / MAX_REVOCATIONS
  t.equal(store.size, MAX_REVOCATIONS)
  t.comment(`measured ${perRevocation.toFixed(0)} B per kept revocation; the bound counts ${MEMORY_COSTS.revocationBytes / MAX_REVOCATIONS} B`)
  t.ok(perRevocation * MAX_REVOCATIONS <= MEMORY_COSTS.revocationBytes, `${perRevocation.toFixed(0)} ≤ ${MEMORY_COSTS.revocationBytes / MAX_REVOCATIONS}`)
  t.end()
})

t.test('what a worst-case edge and a tracked source really cost stays within the figures of the bound', async (t) => {
  // the sent datagrams are not kept: they would count as the supernode's memory
  const { node, receive } = await supernodeInMemory(t, {}, undefined, false)
  // announcements signed beforehand, so that only the supernode's tables grow while measuring
  const candidates = [0, 1, 2, 3].map((k) => ({ family: 6 as const, address: `2001:db8:ffff:ffff:ffff:ffff:ffff:fff${k}`, port: 60000 + k }))
  const records = Array.from({ length: EDGES }, (_, i) =>
    new TestAuthority()
      .issue({ mac: Buffer.from([2, 0, 0, 0, i >> 8, i & 255]), name: 'n'.repeat(MAX_CERTIFICATE_NAME_BYTES), ipv6: { address: `fd00:9::${(i + 1).toString(16)}`, prefix: 64 } })
      .announce(Date.now(), candidates),
  )
  t.equal(records[0]!.length, MAX_ANNOUNCEMENT_BYTES, 'the largest announcement there is')
  const nonce = Buffer.alloc(8, 7)
  // warm up: the code paths compiled, the heap at its working size
  for (let i = 0; i < 2000; i++) receive(encodeHello(nonce), '2001:db8::1', 1000)

  const before = liveBytes()
  for (let i = 0; i < EDGES; i++) {
    const address = sourceAddress('2001:db8', i)
    const cookie = decodePacket(receive(encodeHello(nonce), address, 40000)!)
    if (!cookie.ok || cookie.value.type !== PacketType.Cookie) return t.fail('no cookie')
    const ack = decodePacket(receive(encodeRegister(nonce, cookie.value.cookie, records[i]!), address, 40000)!)
    if (!ack.ok || ack.value.type !== PacketType.RegisterAck) return t.fail(`edge ${i} not registered: ${JSON.stringify(ack)}`)
  }
  const perEdge = (liveBytes() - before) / EDGES
  t.equal(node.registry.edges.size, EDGES)
  t.equal(node.registry.communities.size, EDGES, 'a community each')
  t.equal(node.registry.sources.size, EDGES, 'a /64 each')
  // each registration also made four tracked keys: its endpoint and its /64 in the control rate
  // limiters, its /64's and its community's relay budgets; and one certificate cache entry
  const stated = MEMORY_COSTS.edgeBytes + MEMORY_COSTS.communityBytes + 4 * MEMORY_COSTS.trackedKeyBytes + CERTIFICATE_CACHE_ENTRY_BYTES
  t.comment(`measured ${perEdge.toFixed(0)} B per edge with its community and tracked keys; the bound counts ${stated} B`)
  t.ok(perEdge <= stated, `${perEdge.toFixed(0)} ≤ ${stated}`)

  const beforeKeys = liveBytes()
  for (let i = 0; i < HELLO_SOURCES; i++) receive(encodeHello(nonce), sourceAddress('2001:db9', i), 65535)
  const perKey = (liveBytes() - beforeKeys) / (2 * HELLO_SOURCES)
  t.comment(`measured ${perKey.toFixed(0)} B per tracked key (HELLOs from ${HELLO_SOURCES} endpoints, each in a /64 of its own); the bound counts ${MEMORY_COSTS.trackedKeyBytes} B`)
  t.ok(perKey <= MEMORY_COSTS.trackedKeyBytes, `${perKey.toFixed(0)} ≤ ${MEMORY_COSTS.trackedKeyBytes}`)
})
