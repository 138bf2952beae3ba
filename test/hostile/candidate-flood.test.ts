// A member tries to make the device send UDP where it likes: announcements full of LAN candidates (its
// own choice of hosts and ports, on the device's LAN and elsewhere), brought to the device again and
// again. On v2 the member is a real data path (test/fixtures/data-paths.ts) that completes the pair
// handshake, so the device gets as far as probing: it probes at most MAX_CANDIDATES_PER_PEER endpoints
// per punch attempt, and a LAN candidate only inside a subnet of its own. The device's socket notes
// every session datagram (test/fixtures/recording-transport.ts) and lets only loopback ones out.
// Second half: the member sprays probes sealed in its own pair session with the device from 300
// source ports. The device answers each, probes back only as many sources as its candidate bound
// leaves room for, counts the rest, and no other pair's path moves.
import t from 'tap'
import { bindUdp } from '../../src/net/bind.js'
import type { Transport } from '../../src/net/transport.js'
import { MAX_CANDIDATES_PER_PEER } from '../../src/edge/candidates.js'
import { OwnSubnets } from '../../src/edge/own-subnets.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { PacketType, SessionKind, SessionPacketType, encodePeerInfo, endpointOf, type Endpoint } from '../../src/wire/index.js'
import { TestNetwork } from '../fixtures/data-paths.js'
import { RecordingTransport, type SentDatagram } from '../fixtures/recording-transport.js'

/** The device's own LAN (never reached: the recording socket keeps non-loopback datagrams in). */
const DEVICE_LAN = { address: '192.168.77.10', prefix: 24 }
/** Announcements the member has brought to the device one after the other, each with 4 candidates (an announcement's most). */
const ANNOUNCEMENTS = 5
/** One punch attempt: the schedule's ~6.4 s, and a little more. */
const ATTEMPT_MS = 7_000

/** The member's candidates in announcement `n`: one on the device's LAN (its own port, as an edge's are), three elsewhere. */
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

t.test("a member's announced candidates: the device probes at most the bound per attempt, and no LAN address outside its own subnets", async (t) => {
  const clock = new ManualClock(Date.now())
  const network = await TestNetwork.start(t, clock)
  const socket = await RecordingTransport.open()
  const device = await network.add('device', { transport: socket, localAddresses: [DEVICE_LAN] })
  const member = await network.add('member')
  const ours = new OwnSubnets([DEVICE_LAN])
  // probes are SESSION_DATA of kind Probe sent straight to an endpoint (never relayed); the member is the device's only peer
  const probes = (): SentDatagram[] => socket.sealed.filter((d) => d.type === SessionPacketType.SessionData && d.kind === SessionKind.Probe)

  // each announcement comes to the device as the supernode brings it (PUNCH_REQUEST: the member asked for
  // the device), signed by the member's own key; a newer one replaces the candidates and starts an attempt
  let offeredOffLan = 0
  const perAttempt: number[] = []
  for (let n = 0; n < ANNOUNCEMENTS; n++) {
    const candidates = lanCandidates(n, member.port)
    offeredOffLan += candidates.filter((c) => !ours.contains(c.address)).length
    const before = probes().length
    network.sendTo(device, encodePeerInfo(PacketType.PunchRequest, endpointOf('127.0.0.1', member.port), member.credentials.announcement(clock.now(), candidates), false))
    await network.until(`attempt ${n + 1} starts`, () => probes().length > before)
    await network.run(ATTEMPT_MS)
    perAttempt.push(distinct(probes().slice(before)).length)
  }
  t.ok(device.path.peers.get(member.edgeId) !== undefined, "the device verified the member's announcement and keeps it as a peer")

  const all = probes()
  const offLan = all.filter((d) => !d.address.startsWith('127.') && !ours.contains(d.address))
  const loopbackNotMember = all.filter((d) => d.address.startsWith('127.') && d.port !== member.port)
  const counters = device.counters
  t.comment(`member offered ${ANNOUNCEMENTS} announcements × 4 candidates (${offeredOffLan} outside the device's subnet)`)
  t.comment(`device sent ${all.length} probes to ${distinct(all).length} endpoints in ${perAttempt.length} attempts (distinct per attempt: ${perAttempt.join(', ')})`)
  t.comment(`refused: ${counters.candidatesOffLan} off-LAN, ${counters.candidatesOverLimit} over the limit; non-loopback datagrams kept in by the test socket: ${socket.sealed.filter((d) => !d.sent).length}`)

  t.ok(
    perAttempt.every((n) => n <= MAX_CANDIDATES_PER_PEER),
    `every attempt probed at most ${MAX_CANDIDATES_PER_PEER} endpoints (${perAttempt.join(', ')})`,
  )
  t.equal(offLan.length, 0, "no probe to an address outside the device's own subnets")
  t.equal(loopbackNotMember.length, 0, 'no probe to a loopback endpoint the member named (127.0.0.1:5644, 127.0.0.3:22)')
  t.notOk(
    all.some((d) => d.address === '192.168.77.255' || d.address === '192.168.77.0'),
    "nor to the subnet's broadcast or network address",
  )
  t.ok(
    all.some((d) => d.address === '192.168.77.20'),
    "a LAN candidate on the device's own subnet is probed (the rule refuses what it should, not everything)",
  )
  t.ok(all.some((d) => d.address === '127.0.0.1' && d.port === member.port), 'the member itself (where the supernode saw it) is probed')
  t.ok(counters.candidatesOffLan >= offeredOffLan, `off-LAN candidates counted (${counters.candidatesOffLan} ≥ ${offeredOffLan})`)
})

/** Source ports the member sprays authenticated probes from. */
const PROBE_SOURCES = 300
const MEMBER_SOURCES_ADDRESS = '127.0.0.2'

t.test("a member's authenticated probes from 300 source ports: the device's candidates stay bounded, no other pair's path moves", async (t) => {
  const clock = new ManualClock(Date.now())
  const network = await TestNetwork.start(t, clock)
  const socket = await RecordingTransport.open()
  const device = await network.add('device', { transport: socket, localAddresses: [DEVICE_LAN] })
  const member = await network.add('member')
  const tech = await network.add('tech')
  network.introduce(member, device)
  network.introduce(tech, device)
  const direct = (a: typeof device, b: typeof device): boolean => a.path.peers.get(b.edgeId)?.path.isDirect === true
  await network.until('every pair is direct', () => direct(device, member) && direct(member, device) && direct(device, tech) && direct(tech, device))
  const techPath = device.path.peers.get(tech.edgeId)!.path
  const techEndpointBefore = `${techPath.endpoint!.address}:${techPath.endpoint!.port}`
  const devicePathAtTech = tech.path.peers.get(device.edgeId)!.path
  const deviceEndpointAtTechBefore = `${devicePathAtTech.endpoint!.address}:${devicePathAtTech.endpoint!.port}`
  const memberAtDevice = device.path.peers.get(member.edgeId)!
  const memberEndpointBefore = `${memberAtDevice.path.endpoint!.address}:${memberAtDevice.path.endpoint!.port}`

  const sources: Transport[] = []
  t.teardown(() => Promise.all(sources.map((s) => s.close())))
  for (let i = 0; i < PROBE_SOURCES; i++) sources.push(await bindUdp({ address: MEMBER_SOURCES_ADDRESS, port: 0 }, 'dgram'))
  const sourcePorts = new Set(sources.map((s) => s.local().port))
  const acks = (): SentDatagram[] => socket.sealed.filter((d) => d.type === SessionPacketType.SessionData && d.kind === SessionKind.ProbeAck && d.address === MEMBER_SOURCES_ADDRESS)
  const probesToSources = (): SentDatagram[] => socket.sealed.filter((d) => d.type === SessionPacketType.SessionData && d.kind === SessionKind.Probe && d.address === MEMBER_SOURCES_ADDRESS)
  const overLimitBefore = device.counters.candidatesOverLimit
  const authFailedBefore = device.path.sessionDrops['auth-failed'] ?? 0

  // each probe sealed in the member's own session with the device (what only the member can make), each from another socket
  const deviceAtMember = member.path.peers.get(device.edgeId)!
  for (const source of sources) member.path.prober.probe(deviceAtMember, '127.0.0.1', device.port, clock.now(), 0, source)
  await network.until('every probe answered', () => acks().length >= PROBE_SOURCES)
  const candidates = memberAtDevice.path.candidateEndpoints
  await network.run(ATTEMPT_MS)

  const probedBack = distinct(probesToSources().filter((d) => sourcePorts.has(d.port)))
  const overLimit = device.counters.candidatesOverLimit - overLimitBefore
  t.comment(`${PROBE_SOURCES} authenticated probes from ${PROBE_SOURCES} ports: ${acks().length} answered, ${probedBack.length} sources probed back, ${candidates.length} candidates held for the member, ${overLimit} sources counted over the limit`)
  t.equal(acks().length, PROBE_SOURCES, 'each authenticated probe is answered where it came from')
  t.ok(candidates.length <= MAX_CANDIDATES_PER_PEER, `the member's candidates stay within ${MAX_CANDIDATES_PER_PEER} (${candidates.length})`)
  t.ok(probedBack.length <= MAX_CANDIDATES_PER_PEER - 1, `at most ${MAX_CANDIDATES_PER_PEER - 1} of the ${PROBE_SOURCES} sources are probed back (${probedBack.length})`)
  t.ok(probedBack.length >= 1, 'a source is still probed back (peer-reflexive candidates work)')
  t.equal(overLimit, PROBE_SOURCES - candidates.filter((c) => c.address === MEMBER_SOURCES_ADDRESS).length, `every source beyond the bound counted as over the limit (${overLimit})`)
  t.equal(device.path.sessionDrops['auth-failed'] ?? 0, authFailedBefore, 'no probe failed to open: all were the member\'s own')

  const memberEndpointAfter = `${memberAtDevice.path.endpoint?.address}:${memberAtDevice.path.endpoint?.port}`
  t.equal(memberEndpointAfter, memberEndpointBefore, "the member's own direct path stays where it was (no source answered the device's probes)")
  t.ok(techPath.isDirect, "the device's path to the technician is still direct")
  t.equal(`${techPath.endpoint!.address}:${techPath.endpoint!.port}`, techEndpointBefore, '...at the same endpoint')
  t.ok(devicePathAtTech.isDirect && `${devicePathAtTech.endpoint!.address}:${devicePathAtTech.endpoint!.port}` === deviceEndpointAtTechBefore, "and the technician's path to the device has not moved")
  t.equal(device.path.peers.get(tech.edgeId)!.path.candidateEndpoints.filter((c) => c.address === MEMBER_SOURCES_ADDRESS).length, 0, "none of the member's sources became a candidate of the technician")
})
