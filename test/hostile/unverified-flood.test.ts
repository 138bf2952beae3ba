// v1's attack here (frames under made-up edge IDs, sealed with the community key) no longer exists on
// v2: a frame opens only in a pair session, and a session needs a handshake with a certificate. The v2
// equivalent: a member who can issue certificates (in a shared-secret community every member can) mints
// identities and handshakes with the device from each. The device's peer table stays within MAX_PEERS,
// a member the supernode introduced (the technician) is evicted last and keeps working meanwhile.
// Bounded by count (MAX_PEERS + OVERFLOW handshakes) and by the injected clock.
import { createSocket } from 'node:dgram'
import t from 'tap'
import { generateIdentity, macOfKey } from '../../src/crypto/identity.js'
import { SessionTable } from '../../src/crypto/session-table.js'
import { MAX_PEERS } from '../../src/edge/peers.js'
import { ManualClock } from '../../src/time/manual-clock.js'
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
