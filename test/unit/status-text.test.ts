// `overlan status` as a person reads it: which peers, by which path and how fast, whether the
// supernodes took the registration, when the session ends, which userspace streams are open; and
// which answers are not an edge's.
import t from 'tap'
import { statusLines, isEdgeStatus, isSupernodeStatus } from '../../src/cli/status-text.js'
import { edgeCounters } from '../../src/edge/counters.js'
import type { EdgeStatus } from '../../src/edge/edge.js'
import { edgeDropCounters } from '../../src/edge/reasons.js'
import { streamCounters } from '../../src/edge/streams/hub.js'
import { SESSION_DROP_REASONS } from '../../src/crypto/session-table.js'
import { zeroCounters } from '../../src/wire/reasons.js'

const NOW = Date.parse('2026-11-30T10:00:00Z')

function status(overrides: Partial<EdgeStatus> = {}): EdgeStatus {
  return {
    edgeId: '0a1b2c3d4e5f60',
    certificate: {
      name: 'device',
      fingerprint: 'mfrggzdfmztwq2lknnwg23tpobyxe43u',
      role: 'device',
      mac: '02:00:00:00:00:01',
      ip: '10.99.0.1/24',
      ipv6: null,
      notBefore: '2026-11-30T09:00:00.000Z',
      notAfter: '2026-11-30T18:00:00.000Z',
      selfIssued: false,
    },
    name: 'device',
    mac: '02:00:00:00:00:01',
    ip: '10.99.0.1/24',
    tap: 'overlan0',
    relayOnly: false,
    expiresAt: null,
    allow: null,
    supernodes: [{ address: '127.0.0.1:7654', registered: true, transport: 'udp', port: 7654, fallback: null, rttMs: 3.25, publicEndpoint: '127.0.0.1:40000', clockSkewMs: 120 }],
    peers: [],
    revocations: { announced: 0, received: 0, refused: 0 },
    counters: edgeCounters(),
    // what /status gives: the edge's drop reasons and its pair sessions' in one table
    drops: { ...zeroCounters(SESSION_DROP_REASONS), ...edgeDropCounters() },
    ...overrides,
  }
}

type Peer = EdgeStatus['peers'][number]
function peer(overrides: Partial<Peer>): Peer {
  return {
    id: '11223344556677',
    mac: '02:00:00:00:00:09',
    ip: null,
    name: '',
    fingerprint: 'nbswy3dpeb3w64tmmqqq4zlemvzxi5dp',
    role: 'member',
    notAfter: '2026-11-30T18:00:00.000Z',
    session: { state: 'ready', rekeys: 0, handshakes: 1 },
    path: 'relay',
    via: null, relay: null, endpoint: null, rttMs: null, lastSeenMs: 0, rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, ...overrides }
}

t.test('an edge without peers: who it is, its registered supernode over UDP, and "none yet"', (t) => {
  const lines = statusLines(status(), NOW)
  t.same(lines, [
    'edge device (0a1b2c3d4e5f60), 10.99.0.1/24 on overlan0',
    'certificate "device" (device) mfrggzdfmztwq2lknnwg23tpobyxe43u, valid until 2026-11-30T18:00:00.000Z (in 8 h 0 min)',
    '',
    'supernodes',
    '  SUPERNODE       STATE       TRANSPORT  RTT     CLOCK SKEW',
    '  127.0.0.1:7654  registered  udp 7654   3.3 ms  +120 ms',
    '',
    'peers (0)',
    '  none yet: no other member has sent anything',
  ])
  t.notMatch(lines.join('\n'), /expires|ends/, 'no expiry line when the edge has none')
  t.end()
})

t.test('a direct and a relayed peer: one aligned line each, path with endpoint, RTT, traffic, last seen', (t) => {
  const lines = statusLines(
    status({
      peers: [
        peer({ id: 'aaaaaaaaaaaaaa', name: 'alice', ip: '10.99.0.2', path: 'direct', endpoint: '192.0.2.7:50000', rttMs: 12.4, lastSeenMs: 1500, rxBytes: 1_234_567, txBytes: 980 }),
        peer({ id: 'bbbbbbbbbbbbbb', ip: '10.99.0.3', path: 'punching', endpoint: null, rttMs: null, lastSeenMs: 185_000, rxBytes: 0, txBytes: 45_000 }),
      ],
    }),
    NOW,
  )
  const table = lines.slice(lines.indexOf('peers (2)') + 1)
  t.same(table, [
    '  PEER            OVERLAY IP  PATH                                 RTT    RX      TX     LAST SEEN',
    '  alice           10.99.0.2   direct to 192.0.2.7:50000            12 ms  1.2 MB  980 B  1 s ago',
    '  bbbbbbbbbbbbbb  10.99.0.3   relay via supernode (trying direct)  -      0 B     45 kB  3 min ago',
  ])
  t.end()
})

t.test('a quiet direct path reads as relayed while it is checked; a plain relay names the supernode', (t) => {
  const lines = statusLines(status({ peers: [peer({ name: 'bob', path: 'suspect', endpoint: '192.0.2.8:4000' }), peer({ name: 'carol', path: 'relay' })] }), NOW)
  t.match(lines.join('\n'), /bob .* relay via supernode \(direct went quiet, checking\)/)
  t.match(lines.join('\n'), /carol .* relay via supernode {2}/)
  t.end()
})

t.test('a supernode reached over the TLS fallback says tls and its port; peers relayed through it say so', (t) => {
  const lines = statusLines(
    status({
      supernodes: [{ address: 'sn.example:7654,443', registered: true, transport: 'tls', port: 443, fallback: 'wss://sn.example/overlan', rttMs: 24, publicEndpoint: '198.51.100.4:51000', clockSkewMs: -1500 }],
      peers: [peer({ name: 'tech', path: 'relay', via: 'tls', relay: 'sn.example:7654,443' }), peer({ name: 'lan', path: 'direct', via: 'udp', endpoint: '192.168.1.9:40000' })],
    }),
    NOW,
  )
  const text = lines.join('\n')
  t.match(text, /sn\.example:7654,443 {2}registered {2}tls 443 {4}24 ms {2}-1 s/)
  t.match(text, /tech .* relay via sn\.example:7654,443 over tls /)
  t.match(text, /lan .* direct to 192\.168\.1\.9:40000 /)
  t.end()
})

t.test("an older edge's status without transport, port or via still reads (udp, relay via supernode)", (t) => {
  const old = JSON.parse(JSON.stringify(status({ peers: [peer({ name: 'dan' })] }))) as { certificate?: unknown; supernodes: Record<string, unknown>[]; peers: Record<string, unknown>[] }
  delete old.certificate
  for (const s of old.supernodes) {
    delete s.transport
    delete s.port
    delete s.clockSkewMs
  }
  for (const p of old.peers) {
    delete p.via
    delete p.relay
  }
  const text = statusLines(old as unknown as EdgeStatus, NOW).join('\n')
  t.match(text, /127\.0\.0\.1:7654 {2}registered {2}udp {8}3\.3 ms {2}-$/m)
  t.notMatch(text, /certificate/, 'an edge of overlan 0.1 has none')
  t.match(text, /dan .* relay via supernode/)
  t.end()
})

t.test("a Linux edge's status, whose `tap` holds the device's counters, reads without a device name", (t) => {
  const linux = { ...status(), tap: { framesRead: 10, superFrames: 0 } } as unknown as EdgeStatus
  t.equal(statusLines(linux, NOW)[0], 'edge device (0a1b2c3d4e5f60), 10.99.0.1/24')
  t.end()
})

t.test('a supernode that has not answered reads "not registered" with no RTT', (t) => {
  const lines = statusLines(status({ supernodes: [{ address: 'sn.example:7654', registered: false, transport: 'udp', port: 7654, fallback: null, rttMs: null, publicEndpoint: null, clockSkewMs: null }], ip: null }), NOW)
  t.ok(lines.includes('  sn.example:7654  not registered  udp 7654   -    -'), lines.join('\n'))
  t.match(lines[0], /no overlay address yet/)
  t.end()
})

t.test("a session's expiry: the time and how long is left", (t) => {
  const lines = statusLines(status({ expiresAt: '2026-11-30T13:25:00.000Z', relayOnly: true }), NOW)
  t.equal(lines[0], 'edge device (0a1b2c3d4e5f60), 10.99.0.1/24 on overlan0, relay only')
  t.equal(lines[2], 'session ends 2026-11-30T13:25:00.000Z (in 3 h 25 min)')
  t.equal(statusLines(status({ expiresAt: '2026-11-30T09:00:00.000Z' }), NOW)[2], 'session ends 2026-11-30T09:00:00.000Z (already past)')
  t.end()
})

t.test('a self-issued certificate says so; a supernode clock far from ours gets a line saying what to check', (t) => {
  const base = status()
  const lines = statusLines(
    status({
      certificate: { ...base.certificate, name: 'bench 3', role: 'member', selfIssued: true },
      supernodes: [{ ...base.supernodes[0]!, clockSkewMs: -95_000 }],
    }),
    NOW,
  )
  t.equal(lines[1], 'certificate "bench 3" (member, self-issued) mfrggzdfmztwq2lknnwg23tpobyxe43u, valid until 2026-11-30T18:00:00.000Z (in 8 h 0 min)')
  t.match(lines.join('\n'), /127\.0\.0\.1:7654 {2}registered {2}udp 7654 {3}3\.3 ms {2}-95 s/)
  t.ok(lines.includes("  127.0.0.1:7654's clock is 95 s behind this host's: certificates are judged by its clock; check NTP on both"), lines.join('\n'))
  t.notOk(statusLines(status(), NOW).some((l) => l.includes('NTP')), 'a skew of 120 ms says nothing more')
  t.end()
})

t.test("only an edge's status passes as one", (t) => {
  t.ok(isEdgeStatus(JSON.parse(JSON.stringify(status({ peers: [peer({})] })))), "an edge's /status")
  t.notOk(isEdgeStatus({ port: 7654, edges: [] }), "a supernode's /status")
  t.ok(isSupernodeStatus({ port: 7654, edges: [] }), 'named as a supernode')
  t.notOk(isEdgeStatus({ edgeId: 'x', supernodes: [], peers: [{ id: 'y' }] }), 'a peer without its fields')
  t.notOk(isEdgeStatus([]), 'an array')
  t.notOk(isEdgeStatus(null), 'null')
  t.notOk(isEdgeStatus({ error: 'no such path' }), 'an error object')
  t.end()
})

type Streams = NonNullable<EdgeStatus['streams']>
function streams(active: Streams['active'], counters: Partial<Streams['counters']> = {}): Streams {
  return { active, counters: { ...streamCounters(), ...counters } }
}

t.test("a device's open streams, per technician: port, who opened it, bytes each way, how long", (t) => {
  const lines = statusLines(
    status({
      peers: [peer({ id: 'aaaaaaaaaaaaaa', name: 'anna', ip: '10.99.0.2', role: 'technician' }), peer({ id: 'bbbbbbbbbbbbbb', name: 'ben', ip: '10.99.0.3', role: 'technician' })],
      streams: streams(
        [
          { peer: 'bbbbbbbbbbbbbb', id: 1, direction: 'in', port: 443, bytesFromPeer: 900, bytesToPeer: 2_500_000, ageMs: 4_000 },
          { peer: 'aaaaaaaaaaaaaa', id: 3, direction: 'in', port: 8080, bytesFromPeer: 120, bytesToPeer: 64_000, ageMs: 800 },
          { peer: 'aaaaaaaaaaaaaa', id: 1, direction: 'in', port: 22, bytesFromPeer: 67_108_864, bytesToPeer: 12_345, ageMs: 185_000 },
        ],
        { opened: 7, closed: 4, refused: { ...streamCounters().refused, 'port-not-allowed': 2 } },
      ),
    }),
    NOW,
  )
  t.same(lines.slice(lines.findIndex((l) => l.startsWith('streams'))), [
    'streams (3 open; 4 closed, 2 refused since start)',
    '  PEER  STREAM  OPENED BY  PORT  RECEIVED  SENT    OPEN FOR',
    '  anna  1       the peer   22    67 MB     12 kB   3 min',
    '  anna  3       the peer   8080  120 B     64 kB   800 ms',
    '  ben   1       the peer   443   900 B     2.5 MB  4 s',
  ])
  t.end()
})

t.test("a technician's streams to the device read as opened by this edge; a peer not listed shows its edge ID", (t) => {
  const lines = statusLines(
    status({
      peers: [peer({ id: 'dddddddddddddd', name: 'device', ip: '10.99.0.1', role: 'device' })],
      streams: streams([
        { peer: 'dddddddddddddd', id: 2, direction: 'out', port: 22, bytesFromPeer: 5_000, bytesToPeer: 700, ageMs: 61_000 },
        { peer: 'eeeeeeeeeeeeee', id: 1, direction: 'out', port: 80, bytesFromPeer: 0, bytesToPeer: 0, ageMs: 10 },
      ], { opened: 2 }),
    }),
    NOW,
  )
  const text = lines.join('\n')
  t.match(text, /^ {2}device {10}2 {7}this edge {2}22 {4}5\.0 kB {4}700 B {2}61 s$/m)
  t.match(text, /^ {2}eeeeeeeeeeeeee {2}1 {7}this edge {2}80 {4}0 B {7}0 B {4}10 ms$/m)
  t.end()
})

t.test('streams: none open after some closed; no section at all on an edge that never carried one', (t) => {
  const closed = statusLines(status({ streams: streams([], { opened: 3, closed: 3 }) }), NOW)
  t.same(closed.slice(-2), ['streams (0 open; 3 closed, 0 refused since start)', '  none open'])
  const refusedOnly = statusLines(status({ streams: streams([], { refused: { ...streamCounters().refused, 'no-service': 1 } }) }), NOW)
  t.equal(refusedOnly.at(-2), 'streams (0 open; 0 closed, 1 refused since start)', 'a refusal alone is worth showing')
  t.notOk(statusLines(status({ streams: streams([]) }), NOW).some((l) => l.startsWith('streams')), 'nothing ever: no streams section')
  t.notOk(statusLines(status(), NOW).some((l) => l.startsWith('streams')), 'an older edge without `streams` in its /status')
  t.end()
})
