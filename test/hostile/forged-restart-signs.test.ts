// Signs that a peer restarted (a broadcast under a key ID it never gave us, relayed data under a
// session index we do not have, a newer announcement) start a handshake: a restarted peer has none
// of our keys. Anyone who can put a datagram where the supernode's would be (a hostile supernode, a
// wiretap on its path) or a member replaying announcements can forge such signs. Forged, they must
// drop nothing: the live pair keeps its session and every frame both ways, and the edge handshakes
// at most once per RESTART_SIGN_GAP_MS for all the signs together. A stranger's broadcasts (an edge
// ID with no session) are held and refused as for any unknown sender. All on the injected clock.
import t from 'tap'
import { RESTART_SIGN_GAP_MS } from '../../src/edge/peer-directory.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { PacketType, RELAY_PREFIX_BYTES, encodeBroadcast, encodePeerInfo, encodeSessionData, endpointOf, writeRelayHeader } from '../../src/wire/index.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { TestNetwork, type Node } from '../fixtures/data-paths.js'

const MARKER = 0x5e
/** How long the forged signs go on, of clock time: several restart-sign gaps. */
const FLOOD_MS = 30_000
/** One of each forged sign, and a frame each way, every this many ms. */
const STEP_MS = 50
const STRANGER_ID = 0x1_2345_6789

function relayed(senderId: number, destId: number, inner: Buffer): Buffer {
  const packet = Buffer.alloc(RELAY_PREFIX_BYTES + inner.length)
  writeRelayHeader(packet, senderId, destId)
  packet.set(inner, RELAY_PREFIX_BYTES)
  return packet
}

function handshakes(node: Node, peer: Node): number {
  const c = node.path.peers.get(peer.edgeId)!.session.counters
  return c.handshakesCompleted + c.initiationsAnswered
}

t.test('forged restart signs drop nothing: the pair keeps its session and every frame; handshakes at most one per RESTART_SIGN_GAP_MS', async (t) => {
  const clock = new ManualClock(Date.now())
  const network = await TestNetwork.start(t, clock)
  const device = await network.add('device', { macByte: 1 })
  const tech = await network.add('tech', { macByte: 2 })
  // what a member can replay later: the technician's announcement as the supernode brought it
  const oldAnnouncement = network.announcementOf(tech)
  await network.run(1_000)
  network.introduce(tech, device)
  const ready = (a: Node, b: Node): boolean => a.path.peers.get(b.edgeId)?.session.state === 'ready'
  await network.until('the pair has a session', () => ready(device, tech) && ready(tech, device))
  await network.run(2_000)
  const peerAtDevice = device.path.peers.get(tech.edgeId)!
  const peerAtTech = tech.path.peers.get(device.edgeId)!
  const handshakesBefore = { device: handshakes(device, tech), tech: handshakes(tech, device) }
  const drops = { ...device.drops }
  const sessionDrops = { ...device.path.sessionDrops }
  const marked = (node: Node): number => node.tap.written.filter((f) => f[40] === MARKER).length
  const receivedBefore = { device: marked(device), tech: marked(tech) }

  // a forged announcement: the technician's current one with its signature broken
  const forged = Buffer.from(network.announcementOf(tech))
  forged[forged.length - 1]! ^= 0xff
  let sent = 0
  let n = 0
  for (let at = 0; at < FLOOD_MS; at += STEP_MS) {
    n++
    // from where the supernode's datagrams come: a broadcast under the technician's edge ID and a key ID
    // it never gave us, data under the technician's edge ID and a session index nobody has
    network.sendTo(device, relayed(tech.edgeId, device.edgeId, encodeBroadcast(0x7000_0000 + n, n, Buffer.alloc(80, n))))
    network.sendTo(device, relayed(tech.edgeId, device.edgeId, encodeSessionData(0x6000_0000 + n, n, Buffer.alloc(80, n))))
    // a stranger's broadcast (an edge ID nobody has a session with)
    network.sendTo(device, relayed(STRANGER_ID, 0, encodeBroadcast(0x5000_0000 + n, n, Buffer.alloc(80, n))))
    // the technician's announcement from before (stale) and a forged one, as PEER_INFO
    if (n % 10 === 0) {
      network.sendTo(device, encodePeerInfo(PacketType.PeerInfo, endpointOf('127.0.0.1', tech.port), oldAnnouncement, false))
      network.sendTo(device, encodePeerInfo(PacketType.PeerInfo, endpointOf('127.0.0.1', tech.port), forged, false))
    }
    // the pair talks all along, both ways
    tech.tap.inject(ipv4Frame(device.tap.mac, tech.tap.mac, '10.9.0.2', '10.9.0.1', 98, MARKER))
    device.tap.inject(ipv4Frame(tech.tap.mac, device.tap.mac, '10.9.0.1', '10.9.0.2', 98, MARKER))
    sent++
    await network.run(STEP_MS)
  }
  await network.run(1_000)

  const received = { device: marked(device) - receivedBefore.device, tech: marked(tech) - receivedBefore.tech }
  const made = { device: handshakes(device, tech) - handshakesBefore.device, tech: handshakes(tech, device) - handshakesBefore.tech }
  const delta = (now: Record<string, number>, before: Record<string, number>, name: string): number => (now[name] ?? 0) - (before[name] ?? 0)
  const limit = Math.ceil(FLOOD_MS / RESTART_SIGN_GAP_MS) + 1
  t.comment(`${FLOOD_MS / 1000} s of forged signs (${n} of each kind): ${sent} frames sent each way, received ${received.tech} at the technician and ${received.device} at the device; handshakes ${made.device} at the device, ${made.tech} at the technician`)
  t.comment(
    `device drops: unknown-broadcast-key ${delta(device.drops, drops, 'unknown-broadcast-key')}, unknown-index ${delta(device.path.sessionDrops, sessionDrops, 'unknown-index')}, stale-certificate ${delta(device.drops, drops, 'stale-certificate')}, bad-announcement ${delta(device.drops, drops, 'bad-announcement')}`,
  )
  t.equal(device.path.peers.get(tech.edgeId), peerAtDevice, 'the device keeps its peer (not forgotten, not replaced)')
  t.equal(tech.path.peers.get(device.edgeId), peerAtTech, 'and the technician its')
  t.ok(ready(device, tech) && ready(tech, device), 'the session is ready on both sides')
  t.equal(received.device, sent, 'every frame from the technician reached the device')
  t.equal(received.tech, sent, 'every frame from the device reached the technician')
  t.ok(made.device <= limit, `the device handshook at most once per ${RESTART_SIGN_GAP_MS} ms (${made.device} ≤ ${limit})`)
  t.ok(made.device >= 1, 'the signs did start handshakes (a restarted peer would need them)')
  t.equal(delta(device.drops, drops, 'bad-announcement'), FLOOD_MS / STEP_MS / 10, 'forged announcements counted as bad-announcement')
  t.equal(delta(device.drops, drops, 'stale-certificate'), FLOOD_MS / STEP_MS / 10, 'stale ones as stale-certificate')
  t.equal(delta(device.path.sessionDrops, sessionDrops, 'unknown-index'), n, 'data under an index nobody has: unknown-index')
  t.ok(delta(device.drops, drops, 'unknown-broadcast-key') >= n, 'broadcasts under keys nobody gave: unknown-broadcast-key (the stranger\'s after being held)')
  t.equal(device.path.held.size, 0, 'nothing is held once the flood is over')
})
