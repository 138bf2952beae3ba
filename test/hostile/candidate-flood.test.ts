// A member tries to make the device send UDP where it likes: records full of LAN candidates (its
// own choice of hosts and ports, on the device's LAN and elsewhere), registered again and again, and
// authenticated probes from 300 source ports. The device probes at most MAX_CANDIDATES_PER_PEER
// endpoints per punch attempt, and a LAN candidate only inside a subnet of its own. The device's
// socket notes every datagram (test/fixtures/recording-transport.ts) and lets only loopback ones out.
import { createSocket, type Socket } from 'node:dgram'
import t from 'tap'
import { generateEdgeIdentity } from '../../src/crypto/keys.js'
import { signRecord } from '../../src/crypto/record.js'
import { MAX_CANDIDATES_PER_PEER } from '../../src/edge/candidates.js'
import { OwnSubnets } from '../../src/edge/own-subnets.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { PacketType, PROBE_PAYLOAD_BYTES, encodePeerQuery, endpointOf, writeProbePayload, type Endpoint } from '../../src/wire/index.js'
import { mac } from '../fixtures/frames.js'
import { isRegistered, keysFor, peerOf, startEdge, startSupernode, until } from '../fixtures/overlay.js'
import { RawMember, sealedDatagram } from '../fixtures/raw-member.js'
import { RecordingTransport, type SentDatagram } from '../fixtures/recording-transport.js'

/** The device's own LAN (never reached: the recording socket keeps non-loopback datagrams in). */
const DEVICE_LAN = { address: '192.168.77.10', prefix: 24 }
const MEMBER_ADDRESS = '127.0.0.2'
const PROBE_SOURCES = 300
/** Records the member registers one after the other, each with 4 LAN candidates (a record's most). */
const RECORDS = 5
/** One punch attempt: the schedule's ~6.4 s, and a little more. */
const ATTEMPT_MS = 7_000

/** The member's LAN candidates in record `n`: one on the device's LAN (its own port first, as an edge's are), three elsewhere. */
function lanCandidates(n: number, ownPort: number): Endpoint[] {
  const elsewhere = [
    [endpointOf('10.66.0.1', 53), endpointOf('127.0.0.3', 22), endpointOf('192.168.78.5', 161)],
    [endpointOf('192.168.77.255', 9), endpointOf('192.168.77.0', 9), endpointOf('172.16.0.1', 443)],
    [endpointOf('8.8.8.8', 53), endpointOf('127.0.0.1', 5644), endpointOf('169.254.169.254', 80)],
    [endpointOf('10.0.0.1', 1900), endpointOf('192.168.76.1', 53), endpointOf('100.64.0.1', 123)],
    [endpointOf('192.0.2.1', 7), endpointOf('198.51.100.1', 19), endpointOf('203.0.113.1', 17)],
  ][n]!
  return [endpointOf(`192.168.77.${20 + n}`, ownPort), ...elsewhere]
}

function distinct(sent: readonly SentDatagram[]): string[] {
  return [...new Set(sent.map((d) => `${d.address}:${d.port}`))]
}

t.test("a member's candidates: the device probes at most the bound per attempt, and no LAN address outside its own subnets", async (t) => {
  const clock = new ManualClock(Date.now())
  const sn = await startSupernode(t, {}, clock)
  const socket = await RecordingTransport.open()
  const victim = await startEdge(t, [sn], { clock, transport: socket, localAddresses: [DEVICE_LAN] })
  for (let i = 0; i < 100 && !isRegistered(victim); i++) await clock.advance(50)
  t.ok(isRegistered(victim), 'the device is registered')

  const keys = await keysFor()
  const member = await RawMember.open(t, sn.port, MEMBER_ADDRESS)
  const identity = generateEdgeIdentity()
  const probesToMember = (): SentDatagram[] => socket.sealed.filter((d) => d.type === PacketType.Probe && d.destId === identity.edgeId)
  const ours = new OwnSubnets([DEVICE_LAN])

  // 1. records with LAN candidates of the member's choosing, one after the other; each is brought
  // to the device by the supernode (the member asks for it: PUNCH_REQUEST) and starts an attempt
  let offeredOffLan = 0
  const perAttempt: number[] = []
  for (let n = 0; n < RECORDS; n++) {
    const candidates = lanCandidates(n, member.port)
    offeredOffLan += candidates.filter((c) => !ours.contains(c.address)).length
    const record = signRecord({ timestamp: clock.now() + n, mac: mac(0x44), overlay: { address: '10.9.0.44', prefix: 24 }, name: 'member', candidates }, keys, identity)
    t.equal((await member.register(record)).type, PacketType.RegisterAck, `record ${n + 1} registered`)
    const before = probesToMember().length
    member.send(encodePeerQuery(identity.edgeId, { kind: 'edge', edgeId: victim.edge.edgeId }))
    await until(`attempt ${n + 1} starts`, () => probesToMember().length > before)
    await clock.advance(ATTEMPT_MS)
    perAttempt.push(distinct(probesToMember().slice(before)).length)
  }
  t.equal(peerOf(victim, identity.edgeId)?.name, 'member', "the device verified the member's record")

  // 2. authenticated probes from 300 source ports, during a fresh attempt
  const sources: Socket[] = []
  t.teardown(() => sources.forEach((s) => s.close()))
  for (let i = 0; i < PROBE_SOURCES; i++) {
    const s = createSocket('udp4')
    await new Promise<void>((resolve) => s.bind(0, MEMBER_ADDRESS, resolve))
    sources.push(s)
  }
  const floodFrom = probesToMember().length
  member.send(encodePeerQuery(identity.edgeId, { kind: 'edge', edgeId: victim.edge.edgeId }))
  await until('the flood attempt starts', () => probesToMember().length > floodFrom)
  const acksBefore = socket.sealed.filter((d) => d.type === PacketType.ProbeAck).length
  const payload = writeProbePayload(Buffer.alloc(PROBE_PAYLOAD_BYTES), clock.now())
  sources.forEach((s, i) => s.send(sealedDatagram(keys.dataKey, PacketType.Probe, identity.edgeId, victim.edge.edgeId, i + 1, payload), socket.local().port, '127.0.0.1'))
  const acks = (): number => socket.sealed.filter((d) => d.type === PacketType.ProbeAck).length - acksBefore
  await until('every probe answered', () => acks() >= PROBE_SOURCES)
  await clock.advance(ATTEMPT_MS)
  const floodProbes = probesToMember().slice(floodFrom)
  const sourcePorts = new Set(sources.map((s) => s.address().port))
  const sourcesProbed = distinct(floodProbes.filter((d) => d.address === MEMBER_ADDRESS && sourcePorts.has(d.port)))
  perAttempt.push(distinct(floodProbes).length)

  const all = probesToMember()
  const offLan = all.filter((d) => !d.address.startsWith('127.') && !ours.contains(d.address))
  const loopbackNotMember = all.filter((d) => d.address.startsWith('127.') && d.address !== MEMBER_ADDRESS)
  const counters = victim.edge.status().counters
  t.comment(`member offered ${RECORDS} records × 4 LAN candidates (${offeredOffLan} outside the device's subnet) and probes from ${PROBE_SOURCES} ports`)
  t.comment(`device sent ${all.length} probes to ${distinct(all).length} endpoints in ${perAttempt.length} attempts (distinct per attempt: ${perAttempt.join(', ')}); probed back ${sourcesProbed.length} of the ${PROBE_SOURCES} sources; answered ${acks()} probes`)
  t.comment(`refused: ${counters.candidatesOffLan} off-LAN, ${counters.candidatesOverLimit} over the limit; non-loopback datagrams kept in by the test socket: ${socket.sealed.filter((d) => !d.sent).length}`)

  t.ok(
    perAttempt.every((n) => n <= MAX_CANDIDATES_PER_PEER),
    `every attempt probed at most ${MAX_CANDIDATES_PER_PEER} endpoints (${perAttempt.join(', ')})`,
  )
  t.equal(offLan.length, 0, "no probe to an address outside the device's own subnets")
  t.equal(loopbackNotMember.length, 0, 'no probe to a loopback address the member named (127.0.0.1:5644, 127.0.0.3:22)')
  t.notOk(
    all.some((d) => d.address === '192.168.77.255' || d.address === '192.168.77.0'),
    "nor to the subnet's broadcast or network address",
  )
  t.ok(
    all.some((d) => d.address === '192.168.77.20'),
    "a LAN candidate on the device's own subnet is probed (the rule refuses what it should, not everything)",
  )
  t.ok(sourcesProbed.length <= MAX_CANDIDATES_PER_PEER - 1, `at most ${MAX_CANDIDATES_PER_PEER - 1} of the ${PROBE_SOURCES} probe sources were probed back (${sourcesProbed.length})`)
  t.ok(sourcesProbed.length >= 1, 'a probe source is still probed back (peer-reflexive candidates work)')
  t.ok(counters.candidatesOffLan >= offeredOffLan, `off-LAN candidates counted (${counters.candidatesOffLan})`)
  t.ok(counters.candidatesOverLimit >= PROBE_SOURCES - (MAX_CANDIDATES_PER_PEER - 1), `sources beyond the bound counted (${counters.candidatesOverLimit})`)
  t.equal(acks(), PROBE_SOURCES, 'each probe is still answered once (to where it came from)')
})
