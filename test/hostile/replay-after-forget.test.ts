// A datagram captured on the way and replayed after the receiving edge forgot its sender (idle for
// longer than PEER_IDLE_MS, or gone by the supernode's word) must not reach the host again: the
// session it was sealed in is gone with its keys and index (unknown-index), or, for a flood, the
// sender's broadcast key has been replaced since (unknown-broadcast-key). Forgotten and met again
// while the sender's key is still current, the sender hands the same key again: what it opened
// before stays refused (broadcast-keys.ts ForgottenBroadcastKeys).
import { createSocket } from 'node:dgram'
import t, { type Test } from 'tap'
import type { DataPath } from '../../src/edge/data-path.js'
import { bindUdp } from '../../src/net/bind.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { PacketType, RELAY_PREFIX_BYTES, SessionKind, SessionPacketType } from '../../src/wire/index.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { isRegistered, peerOf, registered, startEdge, startSupernode } from '../fixtures/overlay.js'

const MARKER = 0x72
const IDLE_FOR_MS = 11 * 60_000

/**
 * A supernode, a victim and a sender (relayed, on the injected clock), registered. The sender's
 * socket keeps a copy of every RELAY it sends (what a wiretap would see); `send` sends from that
 * socket without keeping a copy.
 */
async function wiretappedPair(t: Test) {
  const clock = new ManualClock(Date.now())
  const sn = await startSupernode(t, {}, clock)
  const victimSocket = await bindUdp({ address: '127.0.0.1', port: 0 })
  const victim = await startEdge(t, [sn], { relayOnly: true, clock, transport: victimSocket })
  const senderSocket = await bindUdp({ address: '127.0.0.1', port: 0 })
  const captured: Buffer[] = []
  const send = senderSocket.send.bind(senderSocket)
  senderSocket.send = (buf, offset, length, port, address): void => {
    if (buf[offset + 1] === PacketType.Relay) captured.push(Buffer.from(buf.subarray(offset, offset + length)))
    send(buf, offset, length, port, address)
  }
  const sender = await startEdge(t, [sn], { relayOnly: true, clock, transport: senderSocket })
  while (!(isRegistered(victim) && isRegistered(sender))) await clock.advance(50)
  await Promise.all([registered(victim), registered(sender)])
  return { clock, sn, victimSocket, victim, sender, captured, send }
}

t.test('a datagram replayed after the edge forgot its sender is refused; the sender still gets through', async (t) => {
  const { clock, victimSocket, victim, sender, captured } = await wiretappedPair(t)
  const delivered = (): number => victim.tap.written.filter((f) => f[40] === MARKER).length

  const capturedBefore = captured.length
  sender.tap.inject(ipv4Frame(victim.tap.mac, sender.tap.mac, sender.edge.overlay!.address, victim.edge.overlay!.address, 98, MARKER))
  for (let i = 0; i < 40 && delivered() < 1; i++) await clock.advance(50)
  t.equal(delivered(), 1, 'the frame reaches the host once')
  // what carried it: a flood (the MAC was unknown), or SESSION_DATA of kind frame; not a handshake or a key
  const carried = (d: Buffer): boolean =>
    d.length > 100 && (d[RELAY_PREFIX_BYTES + 1] === SessionPacketType.Broadcast || (d[RELAY_PREFIX_BYTES + 1] === SessionPacketType.SessionData && d[RELAY_PREFIX_BYTES + 2] === SessionKind.Frame))
  const datagram = captured.slice(capturedBefore).find(carried)
  t.ok(datagram, 'a relayed datagram was captured')

  await clock.advance(IDLE_FOR_MS, 1000)
  t.equal(peerOf(victim, sender), undefined, 'the victim forgot its idle peer')

  const wiretap = createSocket('udp4')
  t.teardown(() => wiretap.close())
  await new Promise<void>((resolve) => wiretap.bind(0, '127.0.0.1', resolve))
  wiretap.send(datagram!, victimSocket.local().port, '127.0.0.1')
  // a flood under a key the victim no longer has is held for 3 s, then dropped
  for (let i = 0; i < 80; i++) await clock.advance(50)
  t.equal(delivered(), 1, 'the replayed datagram does not reach the host again')
  // from the wiretap's address a RELAY is no supernode's (unexpected-source); the packet inside, sent
  // straight, names a session or key the victim no longer has
  wiretap.send(datagram!.subarray(RELAY_PREFIX_BYTES), victimSocket.local().port, '127.0.0.1')
  for (let i = 0; i < 80; i++) await clock.advance(50)
  t.equal(delivered(), 1, 'nor does the packet inside it, sent straight')
  const drops = victim.edge.status().drops
  t.ok((drops['unexpected-source'] ?? 0) >= 1 && (drops['unknown-index'] ?? 0) + (drops['unexpected-source'] ?? 0) >= 2, `counted: ${JSON.stringify(Object.fromEntries(Object.entries(victim.edge.status().drops).filter(([, n]) => n > 0)))}`)

  // the sender still holds a session the victim forgot: what it seals there is lost until its
  // new-handshake timer (15 s without an answer) makes a session both know; then its frames pass
  for (let second = 0; second < 25 && delivered() < 2; second++) {
    sender.tap.inject(ipv4Frame(victim.tap.mac, sender.tap.mac, sender.edge.overlay!.address, victim.edge.overlay!.address, 98, MARKER))
    for (let i = 0; i < 20 && delivered() < 2; i++) await clock.advance(50)
  }
  t.equal(delivered(), 2, "the sender's frames reach the host again, through a new session")
})

t.test('a broadcast captured before the edge forgot its sender is refused when the two meet again under the same key', async (t) => {
  const { clock, sn, victim, sender, captured: relays, send } = await wiretappedPair(t)
  const floods: Buffer[] = []
  // BROADCASTs only, in the order sent (the RELAYs the wiretap keeps include handshakes and keys)
  const broadcastsSoFar = (): void => {
    for (const d of relays.splice(0)) if (d[RELAY_PREFIX_BYTES + 1] === SessionPacketType.Broadcast) floods.push(d)
  }
  const delivered = (): number => victim.tap.written.filter((f) => f[40] === MARKER).length
  const broadcastFrame = (): Buffer => ipv4Frame(Buffer.from('ffffffffffff', 'hex'), sender.tap.mac, sender.edge.overlay!.address, '10.9.0.255', 98, MARKER)

  sender.tap.inject(broadcastFrame())
  for (let i = 0; i < 60 && delivered() < 1; i++) await clock.advance(50)
  t.equal(delivered(), 1, 'the broadcast reaches the host once')
  broadcastsSoFar()
  t.equal(floods.length, 1, 'sealed once, with the sender\'s broadcast key')
  const captured = floods[0]!
  // a wiretap on the sender's side replays it to the supernode from the sender's address (a RELAY
  // is taken only from a supernode), which fans it out to every member as it did the first time
  const replayToSupernode = (d: Buffer): void => send(d, 0, d.length, sn.port, '127.0.0.1')

  // the supernode's word that the sender is gone (an ERROR unknown-edge: it was briefly unknown
  // there, a supernode restart say): the victim forgets it, its session and its broadcast key
  const inner = victim.edge as unknown as { data: DataPath }
  inner.data.directory.onPeerGone(sender.edge.edgeId)
  t.equal(peerOf(victim, sender), undefined, 'the victim forgot the sender')
  await clock.advance(30_000, 1000)

  // met again 30 s later, within the key's life: the sender floods, the victim holds it, asks, the
  // two handshake and the sender hands the same key again
  sender.tap.inject(broadcastFrame())
  for (let i = 0; i < 100 && delivered() < 2; i++) await clock.advance(50)
  t.equal(delivered(), 2, 'the sender\'s next broadcast reaches the host, once they met again')
  broadcastsSoFar()
  t.equal(floods.length, 2)
  t.equal(floods[1]!.readUInt32BE(RELAY_PREFIX_BYTES + 2), captured.readUInt32BE(RELAY_PREFIX_BYTES + 2), 'under the same key ID as the captured copy')

  const replayedBefore = victim.edge.status().drops.replayed ?? 0
  replayToSupernode(captured)
  for (let i = 0; i < 20; i++) await clock.advance(50)
  t.equal(delivered(), 2, 'the captured broadcast does not reach the host a second time')
  t.equal((victim.edge.status().drops.replayed ?? 0) - replayedBefore, 1, 'counted as replayed')
})
