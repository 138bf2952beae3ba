// The supernode checks a record's edge signature lazily (only once it relies on the edge ID), so a
// member can get a record with someone else's edge key and a bad edge signature accepted for an
// edge ID nobody holds there. These tests prove what that buys it: nothing. It cannot take an ID
// that is held, an ID it squats is never introduced or relayed to or from, and the owner takes it
// back by registering.
import t from 'tap'
import { generateEdgeIdentity, sign, type CommunityKeys } from '../../src/crypto/index.js'
import { Supernode } from '../../src/supernode/supernode.js'
import {
  ErrorCode,
  PacketType,
  SEALED_OVERHEAD,
  decodeRecord,
  encodePeerQuery,
  encodeRecord,
  encodeRecordBody,
  writeSealedHeader,
  type Packet,
} from '../../src/wire/index.js'
import { ipv4Frame, mac } from '../fixtures/frames.js'
import { isRegistered, keysFor, registered, startEdge, startSupernode, until } from '../fixtures/overlay.js'
import { RawMember } from '../fixtures/raw-member.js'

const ATTACKER_ADDRESS = '127.0.0.2'

/**
 * A record a member can make for someone else's edge key: a good community signature, and an edge
 * signature it cannot make (by its own edge key, or garbage).
 */
function forgedRecord(keys: CommunityKeys, victimKey: Buffer, last: number, edgeSignature: 'own-key' | 'garbage'): Buffer {
  const body = encodeRecordBody({
    communityKey: keys.signPublicKey,
    edgeKey: victimKey,
    timestamp: Date.now() + 60_000,
    mac: mac(last),
    overlay: { address: `10.9.0.${last}`, prefix: 24 },
    name: 'not-the-victim',
    candidates: [],
  })
  const badSignature = edgeSignature === 'own-key' ? sign('record', body, generateEdgeIdentity().secretKey) : Buffer.alloc(64, 0x5a)
  return encodeRecord(body, sign('record', body, keys.signSecretKey), badSignature)
}

/** A record of the member's own, properly signed. */
function ownRecord(keys: CommunityKeys, last: number): { record: Buffer; edgeId: number } {
  const identity = generateEdgeIdentity()
  const body = encodeRecordBody({
    communityKey: keys.signPublicKey,
    edgeKey: identity.publicKey,
    timestamp: Date.now(),
    mac: mac(last),
    overlay: { address: `10.9.0.${last}`, prefix: 24 },
    name: '',
    candidates: [],
  })
  return { record: encodeRecord(body, sign('record', body, keys.signSecretKey), sign('record', body, identity.secretKey)), edgeId: identity.edgeId }
}

/** The edge key in the record the supernode holds for an edge: what any member gets in PEER_INFO. */
function edgeKeyHeld(sn: Supernode, edgeId: number): Buffer {
  const decoded = decodeRecord(sn.registry.edges.get(edgeId)!.recordBytes)
  if (!decoded.ok) throw new Error(decoded.reason)
  return decoded.value.edgeKey
}

function relayFrame(senderId: number, destId: number): Buffer {
  const packet = Buffer.alloc(200 + SEALED_OVERHEAD)
  writeSealedHeader(packet, PacketType.Relay, senderId, destId, 1)
  return packet
}

t.test('a member cannot take over a registered edge ID; the owner re-registers as before', async (t) => {
  const sn = await startSupernode(t)
  const victim = await startEdge(t, [sn], { relayOnly: true })
  const peer = await startEdge(t, [sn], { relayOnly: true })
  await Promise.all([registered(victim), registered(peer)])
  const keys = await keysFor()
  const attacker = await RawMember.open(t, sn.port, ATTACKER_ADDRESS)
  const victimKey = edgeKeyHeld(sn, victim.edge.edgeId)
  const before = { ...sn.registry.edges.get(victim.edge.edgeId)! }

  for (const [i, kind] of (['own-key', 'garbage'] as const).entries()) {
    const answer = await attacker.register(forgedRecord(keys, victimKey, 200 + i, kind))
    t.equal(answer.type, PacketType.Error, `a newer record for the victim's ID with ${kind === 'own-key' ? "the attacker's own" : 'a garbage'} edge signature is refused`)
    if (answer.type === PacketType.Error) t.equal(answer.code, ErrorCode.BadSignature, 'ERROR bad-signature')
  }
  const held = sn.registry.edges.get(victim.edge.edgeId)!
  t.same([held.address, held.port, held.timestamp], [before.address, before.port, before.timestamp], 'the victim stays registered where it was, with its own record')
  t.equal(sn.drops['bad-signature'], 2)

  // the owner's own re-registration (same record, same key) goes through, and traffic still flows
  const registrations = sn.counters.registrations
  victim.edge.reregister()
  await until('victim re-registered', () => sn.counters.registrations > registrations && isRegistered(victim))
  t.pass('the victim re-registers')
  peer.tap.inject(ipv4Frame(victim.tap.mac, peer.tap.mac, peer.edge.overlay!.address, victim.edge.overlay!.address))
  await until('frame relayed to the victim', () => victim.tap.written.length > 0)
  t.pass('a frame for the victim reaches it through the relay')
  t.notOk(
    attacker.received.some((m) => m[1] === PacketType.Relay),
    'the attacker received no relayed frame',
  )
  t.equal(sn.counters.forgedEdgesRemoved, 0)
})

t.test('an edge ID squatted under a bad edge signature is never introduced or relayed, and goes when relied on', async (t) => {
  const sn = await startSupernode(t)
  const keys = await keysFor()
  const attacker = await RawMember.open(t, sn.port, ATTACKER_ADDRESS)
  const member = await RawMember.open(t, sn.port, '127.0.0.3')
  const own = ownRecord(keys, 50)
  t.equal((await member.register(own.record)).type, PacketType.RegisterAck, 'an honest member registers')
  // the victim is registered at another supernode (or was here before a restart): its key is known
  const victim = generateEdgeIdentity()

  const squat = (): Promise<Packet> => attacker.register(forgedRecord(keys, victim.publicKey, 60, 'own-key'))
  t.equal((await squat()).type, PacketType.RegisterAck, 'a new edge ID is accepted on the community signature alone')
  t.equal(sn.registry.edges.get(victim.edgeId)?.edgeSignatureChecked, false, 'its edge signature is not checked yet')

  // introduced: a peer query for it finds nothing, and the squatter is gone
  const refusal = member.answer([PacketType.Error, PacketType.PeerInfo])
  member.send(encodePeerQuery(own.edgeId, { kind: 'edge', edgeId: victim.edgeId }))
  const answer = await refusal
  t.equal(answer.type, PacketType.Error, 'PEER_QUERY for the squatted ID: ERROR unknown-peer, no PEER_INFO')
  t.equal(sn.registry.edges.has(victim.edgeId), false, 'the squatter was removed')
  t.equal(sn.counters.forgedEdgesRemoved, 1)

  // relayed to: the frame is dropped, the squatter gets nothing
  t.equal((await squat()).type, PacketType.RegisterAck, 'squats again')
  const unknownDest = sn.drops['relay-unknown-dest']
  member.send(relayFrame(own.edgeId, victim.edgeId))
  await until('relay refused', () => sn.drops['relay-unknown-dest'] > unknownDest)
  t.equal(sn.counters.forgedEdgesRemoved, 2, 'a RELAY to the squatted ID removes it')

  // relayed from: the squatter cannot send as the victim either
  t.equal((await squat()).type, PacketType.RegisterAck, 'squats again')
  const unknownSender = sn.drops['relay-unknown-sender']
  attacker.send(relayFrame(victim.edgeId, own.edgeId))
  await until('relay from the squatter refused', () => sn.drops['relay-unknown-sender'] > unknownSender)
  t.equal(sn.counters.forgedEdgesRemoved, 3, 'a RELAY from the squatted ID removes it')
  t.equal(sn.counters.relayedFrames, 0, 'nothing was relayed to or from the squatted ID')
  t.notOk(
    attacker.received.some((m) => m[1] === PacketType.Relay || m[1] === PacketType.PunchRequest),
    'the squatter received no frame and no introduction',
  )
  t.match(sn.metrics(), /overlan_supernode_forged_edges_removed_total 3/)
})

t.test('the owner of a squatted edge ID takes it back by registering', async (t) => {
  // the victim registers at a supernode that then restarts: a member who saw its record squats
  // the ID at the new one before the victim's next keepalive finds it gone
  const first = await Supernode.start({ port: 0, bindAddress: '127.0.0.1', mgmt: null })
  const victim = await startEdge(t, [first])
  await registered(victim)
  const victimKey = edgeKeyHeld(first, victim.edge.edgeId)
  const victimPort = first.registry.edges.get(victim.edge.edgeId)!.port
  const port = first.port
  await first.stop()
  const sn = await startSupernode(t, { port })
  const keys = await keysFor()
  const attacker = await RawMember.open(t, sn.port, ATTACKER_ADDRESS)
  t.equal((await attacker.register(forgedRecord(keys, victimKey, 70, 'garbage'))).type, PacketType.RegisterAck, 'squatted before the victim came back')
  t.equal(sn.registry.edges.get(victim.edge.edgeId)?.address, ATTACKER_ADDRESS)

  // the victim's next keepalive (every 20/3 s) is answered unknown-edge; it registers again
  const started = Date.now()
  await until('the victim holds its ID again', () => sn.registry.edges.get(victim.edge.edgeId)?.address === '127.0.0.1', 15_000)
  t.comment(`the victim was back ${Date.now() - started} ms after the squat`)
  const entry = sn.registry.edges.get(victim.edge.edgeId)!
  t.equal(entry.port, victimPort, 'at its own endpoint')
  t.ok(entry.edgeSignatureChecked, 'with its edge signature checked')
  t.equal(sn.counters.forgedEdgesRemoved, 1, 'the squatter was removed')
  const again = await attacker.register(forgedRecord(keys, victimKey, 71, 'garbage'))
  t.equal(again.type, PacketType.Error, 'and cannot squat while the owner holds the ID')
})

t.test("a copy of an edge's current record, re-sent from another address, does not move the edge", async (t) => {
  const sn = await startSupernode(t)
  const victim = await startEdge(t, [sn], { relayOnly: true })
  const peer = await startEdge(t, [sn], { relayOnly: true })
  await Promise.all([registered(victim), registered(peer)])
  const attacker = await RawMember.open(t, sn.port, ATTACKER_ADDRESS)
  const before = { ...sn.registry.edges.get(victim.edge.edgeId)! }

  // what anyone on the path (or any member, from PEER_INFO) can copy: the record as registered
  const answer = await attacker.register(before.recordBytes)
  t.equal(answer.type, PacketType.Error, 'the copy is refused')
  if (answer.type === PacketType.Error) t.equal(answer.code, ErrorCode.StaleRecord, 'ERROR stale-record')
  const held = sn.registry.edges.get(victim.edge.edgeId)!
  t.same([held.address, held.port], [before.address, before.port], 'the edge ID still points at its owner')

  // the owner registers again (as after its NAT moved it): a fresh record, newer, accepted
  const registrations = sn.counters.registrations
  victim.edge.reregister()
  await until('victim re-registered', () => sn.counters.registrations > registrations && isRegistered(victim))
  t.ok(sn.registry.edges.get(victim.edge.edgeId)!.timestamp > before.timestamp, "the owner's new registration carries a newer record")
  peer.tap.inject(ipv4Frame(victim.tap.mac, peer.tap.mac, peer.edge.overlay!.address, victim.edge.overlay!.address))
  await until('frame relayed to the victim', () => victim.tap.written.length > 0)
  t.notOk(
    attacker.received.some((m) => m[1] === PacketType.Relay),
    'the attacker received no relayed frame',
  )
})
