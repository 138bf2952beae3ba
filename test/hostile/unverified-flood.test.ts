// v1's attack here (frames under made-up edge IDs, sealed with the community key) no longer exists on
// v2: a frame opens only in a pair session, and a session needs a handshake with a certificate. The v2
// equivalent: a member who can issue certificates (in a shared-secret community every member can) mints
// identities and handshakes with the device from each. The device's peer table stays within MAX_PEERS,
// a member the supernode introduced (the technician) is evicted last and keeps working meanwhile.
// Minted members the supernode introduces, flooding broadcasts and drawing frames from the device's
// host while their handshakes go unanswered: what the device holds for them (held broadcasts,
// pending frames) stays within its bounds, the rest refused and counted by reason.
// Bounded by count (MAX_PEERS + OVERFLOW handshakes) and by the injected clock.
import { createSocket } from 'node:dgram'
import t from 'tap'
import { generateIdentity, macOfKey } from '../../src/crypto/identity.js'
import { SessionTable } from '../../src/crypto/session-table.js'
import { Credentials } from '../../src/edge/credentials.js'
import { HELD_BROADCAST_MS, HELD_BROADCASTS_PER_SENDER, HELD_BROADCASTS_TOTAL } from '../../src/edge/held-broadcasts.js'
import { MAX_PEERS } from '../../src/edge/peers.js'
import { PENDING_BYTES_TOTAL, PENDING_FRAMES_PER_PEER } from '../../src/edge/pending-frames.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { PacketType, RELAY_PREFIX_BYTES, encodeBroadcast, encodePeerInfo, endpointOf, writeRelayHeader } from '../../src/wire/index.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { TestNetwork, realDelay } from '../fixtures/data-paths.js'

/** Minted identities beyond what the table holds. */
const OVERFLOW = 300
/** Handshakes sent before the test lets the device read them (its socket queue is finite). */
const BATCH = 32

t.test('handshakes from minted identities: the peer table stays within MAX_PEERS, the introduced technician is kept and heard', async (t) => {
  const clock = new ManualClock(Date.now())
  const network = await TestNetwork.start(t, clock)
  const device = await network.add('device', { macByte: 1 })
  const tech = await network.add('tech', { macByte: 2 })
  network.introduce(tech, device)
  await network.until('the technician and the device have a session', () => device.path.peers.get(tech.edgeId) !== undefined && tech.path.peers.get(device.edgeId) !== undefined)

  const flooder = createSocket('udp4')
  t.teardown(() => flooder.close())
  await new Promise<void>((resolve) => flooder.bind(0, '127.0.0.3', resolve))
  const deviceCert = device.credentials.certificateBytes
  const heapBefore = process.memoryUsage().heapUsed
  let sent = 0
  for (let i = 0; i < MAX_PEERS + OVERFLOW; i++) {
    const identity = generateIdentity()
    // each its own MAC (from its key) and no IPv4: nothing the device binds is shared, so none replaces another
    const member = network.ca.member({ mac: macOfKey(identity.publicKey), ipv4: null }, identity)
    const table = new SessionTable({
      identity,
      certificate: member.bytes,
      communityId: network.ca.authority.communityId,
      clock,
      verifyCertificate: () => Buffer.from(device.credentials.certificate.memberKey),
      send: (_session, packet) => {
        flooder.send(packet, device.port, '127.0.0.1')
        sent++
      },
    })
    table.connect(deviceCert)?.initiate()
    table.close()
    if (i % BATCH === BATCH - 1) await realDelay(5)
  }
  await network.run(500)
  const heapAfter = process.memoryUsage().heapUsed
  const size = device.path.peers.size
  const sessions = device.path.sessions.size
  const heapMiB = Math.round((heapAfter - heapBefore) / 1024 / 1024)
  t.comment(`${sent} initiations from ${MAX_PEERS + OVERFLOW} minted identities; device: ${size} peers, ${sessions} pair sessions, ${device.counters.peersEvicted} evicted; heap +${heapMiB} MiB (the flooder's side included)`)
  t.ok(size <= MAX_PEERS, `the peer table stays within ${MAX_PEERS} (${size})`)
  t.ok(sessions <= MAX_PEERS, `the session table stays within it too (${sessions}): an evicted peer's session goes with it`)
  t.ok(device.counters.peersEvicted >= OVERFLOW - 1, `room was made by eviction (${device.counters.peersEvicted})`)
  t.ok(heapMiB < 64, `heap growth stays bounded (+${heapMiB} MiB for ${MAX_PEERS + OVERFLOW} identities)`)
  t.ok(size > OVERFLOW, 'the handshakes were taken (the bound is what stopped the table, not a refusal of all)')
  t.ok(device.path.peers.get(tech.edgeId) !== undefined, 'the technician the supernode introduced is still a peer')
  tech.tap.inject(ipv4Frame(device.tap.mac, tech.tap.mac, '10.9.0.2', '10.9.0.1'))
  await network.until('the device hears the technician', () => device.tap.written.length > 0)
  t.ok(device.tap.written.length > 0, "the technician's frame reaches the device")
})

/** Minted members the supernode introduces to the device (each then never answers its handshake). */
const INTRODUCED = 40
/** Broadcasts under each minted member's edge ID, more than HELD_BROADCASTS_PER_SENDER. */
const BROADCASTS_EACH = 24
/** Frames the device's host sends to each minted member's MAC, more than a pending queue holds. */
const FRAMES_EACH = 20

t.test('minted members flooding broadcasts and drawing frames: held broadcasts and pending frames stay within their bounds', async (t) => {
  const clock = new ManualClock(Date.now())
  const network = await TestNetwork.start(t, clock)
  const device = await network.add('device', { macByte: 1 })
  const tech = await network.add('tech', { macByte: 2 })
  network.introduce(tech, device)
  await network.until('the technician and the device have a session', () => device.path.peers.get(tech.edgeId)?.session.state === 'ready' && tech.path.peers.get(device.edgeId)?.session.state === 'ready')

  // members minted by the attacker, each registered at the supernode under its own identity (a
  // shared-secret member can): the supernode introduces each to the device (a PUNCH_REQUEST, as when
  // the member asks for the device), so the device holds a peer and starts a handshake nobody answers
  const minted: { edgeId: number; mac: Buffer }[] = []
  for (let i = 0; i < INTRODUCED; i++) {
    const identity = generateIdentity()
    const member = network.ca.member({ mac: macOfKey(identity.publicKey), ipv4: null }, identity)
    const credentials = await Credentials.create({ clock, identity, certificate: member.bytes })
    const announcement = credentials.announcement(clock.now(), [])
    minted.push({ edgeId: credentials.edgeId, mac: member.verified.certificate.mac })
    credentials.destroy()
    network.sendTo(device, encodePeerInfo(PacketType.PunchRequest, endpointOf('127.0.0.3', 9), announcement, false))
  }
  await network.until('the device holds every introduced member as a peer', () => minted.every((m) => device.path.peers.get(m.edgeId) !== undefined))
  t.ok(minted.every((m) => device.path.peers.get(m.edgeId)!.session.state === 'handshaking'), 'each with a handshake under way that nobody answers')

  // each floods BROADCASTs under its own edge ID and made-up key IDs, fanned out by the supernode
  let held = 0
  let perSender = 0
  const dropsBefore = device.drops['unknown-broadcast-key']
  for (const m of minted) {
    for (let n = 1; n <= BROADCASTS_EACH; n++) {
      const inner = encodeBroadcast(0x10000 + n, n, Buffer.alloc(100, n))
      const relay = Buffer.alloc(RELAY_PREFIX_BYTES + inner.length)
      writeRelayHeader(relay, m.edgeId, 0)
      relay.set(inner, RELAY_PREFIX_BYTES)
      network.sendTo(device, relay)
    }
    await realDelay(5)
    held = Math.max(held, device.path.held.size)
    for (const s of minted) perSender = Math.max(perSender, device.path.held.heldFrom(s.edgeId))
  }
  await realDelay(20)
  held = Math.max(held, device.path.held.size)
  t.comment(`${INTRODUCED * BROADCASTS_EACH} broadcasts from ${INTRODUCED} senders: at most ${held} held, ${perSender} from one sender`)
  t.ok(held <= HELD_BROADCASTS_TOTAL, `held broadcasts stay within ${HELD_BROADCASTS_TOTAL} in all (${held})`)
  t.equal(held, HELD_BROADCASTS_TOTAL, 'the total bound is what stopped them (the flood reached it)')
  t.ok(perSender <= HELD_BROADCASTS_PER_SENDER, `and within ${HELD_BROADCASTS_PER_SENDER} per sender (${perSender})`)
  const refused = device.drops['unknown-broadcast-key'] - dropsBefore
  t.equal(refused, INTRODUCED * BROADCASTS_EACH - held, `the rest refused as unknown-broadcast-key (${refused})`)

  // the device's host answers each of them (its ARP replies, say): frames wait for handshakes that never complete
  let pendingPeak = 0
  for (const m of minted) {
    for (let n = 0; n < FRAMES_EACH; n++) device.tap.inject(ipv4Frame(m.mac, device.tap.mac, '10.9.0.1', '10.9.0.200', 1400))
    pendingPeak = Math.max(pendingPeak, device.counters.pendingBytes)
  }
  const longestQueue = Math.max(...minted.map((m) => device.path.peers.get(m.edgeId)?.pending.length ?? 0))
  t.comment(`${INTRODUCED * FRAMES_EACH} frames of 1,400 bytes for ${INTRODUCED} unanswered peers: ${pendingPeak} bytes held at most, ${longestQueue} frames in the longest queue; refused ${device.drops['pending-peer-full']} per peer, ${device.drops['pending-full']} in all`)
  t.ok(pendingPeak <= PENDING_BYTES_TOTAL, `pending bytes stay within ${PENDING_BYTES_TOTAL} (${pendingPeak})`)
  t.ok(pendingPeak > PENDING_BYTES_TOTAL - 2 * 1400, 'the total bound is what stopped them')
  t.ok(longestQueue <= PENDING_FRAMES_PER_PEER, `each peer's queue within ${PENDING_FRAMES_PER_PEER} frames (${longestQueue})`)
  t.ok(device.drops['pending-peer-full'] > 0 && device.drops['pending-full'] > 0, 'refusals counted by which bound refused them')

  // held broadcasts go after HELD_BROADCAST_MS; the technician is heard all along
  await network.run(HELD_BROADCAST_MS + 200)
  t.equal(device.path.held.size, 0, `held broadcasts are gone ${HELD_BROADCAST_MS} ms later`)
  const before = device.tap.written.length
  tech.tap.inject(ipv4Frame(device.tap.mac, tech.tap.mac, '10.9.0.2', '10.9.0.1'))
  await network.until('the device hears the technician', () => device.tap.written.length > before)
  t.ok(device.tap.written.length > before, "the technician's frame reaches the device")
})
