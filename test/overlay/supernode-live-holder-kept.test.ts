// Attack 1 of the audit, over real loopback UDP: a member whose certificate (self-issued, as any
// holder of a shared secret can) claims the live device's MAC, then its IPv4, then both with a fresh
// key, is refused by the supernode; the device stays registered and the counters name the reason.
// The device itself, restarted with its persisted identity behind another address, takes its place
// at once; a holder silent for holderSilentMs (25 s) is replaced, not a second before. A captured
// announcement re-sent from elsewhere, a certificate whose authority signature does not verify and
// an announcement whose member signature does not are refused.
import t from 'tap'
import { signAnnouncement } from '../../src/crypto/index.js'
import { holderSilentMs } from '../../src/supernode/supernode.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { ErrorCode, PacketType, formatEdgeId, type Packet } from '../../src/wire/index.js'
import { RawMember } from '../fixtures/raw-member.js'
import { startSupernode } from '../fixtures/supernode-start.js'
import { TestAuthority } from '../fixtures/supernode-members.js'

function codeOf(packet: Packet): string {
  return packet.type === PacketType.Error ? `error ${packet.code}` : packet.type === PacketType.RegisterAck ? 'ack' : `type ${packet.type}`
}

t.test("another key claiming the device's MAC, IPv4, both: refused while the device is live; the device stays", async (t) => {
  const sn = await startSupernode(t)
  const community = new TestAuthority()
  const device = community.issue({ role: 'device', name: 'the device' })
  const deviceSocket = await RawMember.open(t, sn.port, '127.0.0.71')
  t.equal(codeOf(await deviceSocket.register(device.announce())), 'ack', 'the device registered')

  const attacker = await RawMember.open(t, sn.port, '127.0.0.72')
  const claims = [
    { what: 'its MAC', over: { mac: device.decoded.mac }, code: ErrorCode.MacInUse, reason: 'mac-in-use' },
    { what: 'its IPv4', over: { ipv4: device.decoded.ipv4 }, code: ErrorCode.AddressInUse, reason: 'address-in-use' },
    { what: 'both', over: { mac: device.decoded.mac, ipv4: device.decoded.ipv4 }, code: ErrorCode.MacInUse, reason: 'mac-in-use' },
  ] as const
  for (const claim of claims) {
    const fresh = community.issue(claim.over) // a fresh key each time
    t.equal(codeOf(await attacker.register(fresh.announce())), `error ${claim.code}`, `${claim.what} with a fresh key: refused (${claim.reason})`)
  }
  t.equal(sn.drops['mac-in-use'], 2, 'counted: mac-in-use twice')
  t.equal(sn.drops['address-in-use'], 1, 'counted: address-in-use once')
  t.equal(sn.registry.edges.size, 1, 'nobody else registered')
  const edges = sn.status().edges
  t.match(edges, [{ id: formatEdgeId(device.edgeId), name: 'the device', role: 'device', endpoint: `127.0.0.71:${deviceSocket.port}` }], 'the device holds its place, at its own endpoint')
  t.match(sn.metrics(), /overlan_supernode_dropped_total\{reason="mac-in-use"\} 2/)
})

t.test('the same key, restarted behind another address with a newer announcement, takes its place at once', async (t) => {
  const sn = await startSupernode(t)
  const community = new TestAuthority()
  const device = community.issue()
  const before = await RawMember.open(t, sn.port, '127.0.0.73')
  t.equal(codeOf(await before.register(device.announce())), 'ack')
  const after = await RawMember.open(t, sn.port, '127.0.0.74')
  const answer = await after.register(device.announce())
  t.equal(codeOf(answer), 'ack', 'accepted at once: no wait for silence')
  t.match(answer, { edgeId: device.edgeId })
  t.equal(sn.registry.edges.get(device.edgeId)?.address, '127.0.0.74', 'now at its new address')
  t.equal(sn.registry.edges.size, 1)
})

t.test('a captured announcement re-sent from another address is stale; bad certificate and announcement signatures are refused', async (t) => {
  const sn = await startSupernode(t)
  const community = new TestAuthority()
  const device = community.issue()
  const announcement = device.announce()
  const owner = await RawMember.open(t, sn.port, '127.0.0.75')
  t.equal(codeOf(await owner.register(announcement)), 'ack')
  const thief = await RawMember.open(t, sn.port, '127.0.0.76')
  t.equal(codeOf(await thief.register(announcement)), `error ${ErrorCode.StaleRecord}`, 'replayed from elsewhere: stale-record')
  t.equal(sn.registry.edges.get(device.edgeId)?.address, '127.0.0.75', 'the owner stays where it is')

  // the authority signature (the certificate's last byte) altered: the announcement signed over it all the same
  const other = community.issue()
  const forgedCertificate = Buffer.from(other.certificate)
  forgedCertificate[forgedCertificate.length - 1]! ^= 1
  t.equal(codeOf(await thief.register(signAnnouncement(other.identity, forgedCertificate, Date.now(), []))), `error ${ErrorCode.BadCertificate}`, 'bad authority signature: bad-certificate')
  t.equal(sn.drops['bad-certificate-signature'], 1, 'counted')

  // a good certificate, the member signature (the announcement's last byte) altered
  const tampered = other.announce()
  tampered[tampered.length - 1]! ^= 1
  t.equal(codeOf(await thief.register(tampered)), `error ${ErrorCode.BadSignature}`, 'bad member signature: bad-signature')
  // a good certificate of someone else, signed by the thief's own key
  const stolen = signAnnouncement(community.issue().identity, other.certificate, Date.now(), [])
  t.equal(codeOf(await thief.register(stolen)), `error ${ErrorCode.BadSignature}`, "another member's certificate under the thief's key: bad-signature")
  t.equal(sn.drops['bad-signature'], 2, 'counted')
  t.equal(sn.registry.edges.size, 1, 'only the owner is registered')
})

t.test("a captured announcement where its owner is not registered is held only until the owner's next registration", async (t) => {
  const sn = await startSupernode(t)
  const community = new TestAuthority()
  const owner = community.issue()
  const captured = owner.announce()
  const thief = await RawMember.open(t, sn.port, '127.0.0.85')
  // the owner is registered at another supernode, not here: the copy verifies (the signature is the owner's)
  t.equal(codeOf(await thief.register(captured)), 'ack', 'accepted: the announcement is genuine')
  t.equal(sn.registry.edges.get(owner.edgeId)?.address, '127.0.0.85')
  const ownerSocket = await RawMember.open(t, sn.port, '127.0.0.86')
  t.equal(codeOf(await ownerSocket.register(owner.announce())), 'ack', 'the owner registers with a newer one: at once')
  t.equal(sn.registry.edges.get(owner.edgeId)?.address, '127.0.0.86', 'the edge ID points at the owner again')
  t.equal(codeOf(await thief.register(captured)), `error ${ErrorCode.StaleRecord}`, 'the copy again: stale-record')
})

t.test('a holder silent for holderSilentMs is replaced by another key; not a millisecond before', async (t) => {
  const clock = new ManualClock(Date.now())
  const sn = await startSupernode(t, {}, clock)
  const silentMs = holderSilentMs(sn.config.keepaliveSeconds)
  t.equal(silentMs, 25_000, 'with the default 20 s keepalive: 25 s')
  const community = new TestAuthority()
  const device = community.issue()
  const old = await RawMember.open(t, sn.port, '127.0.0.77')
  t.equal(codeOf(await old.register(device.announce())), 'ack')
  const newcomer = community.issue({ mac: device.decoded.mac, ipv4: device.decoded.ipv4 })
  const socket = await RawMember.open(t, sn.port, '127.0.0.78')
  clock.jump(silentMs - 1)
  t.equal(codeOf(await socket.register(newcomer.announce())), `error ${ErrorCode.MacInUse}`, `silent ${silentMs - 1} ms: refused`)
  clock.jump(1)
  t.equal(codeOf(await socket.register(newcomer.announce())), 'ack', `silent ${silentMs} ms: replaced`)
  t.notOk(sn.registry.edges.has(device.edgeId), 'the silent holder is gone')
  t.ok(sn.registry.edges.has(newcomer.edgeId))
})

t.test('REGISTER_ACK carries the supernode clock; /status shows the certificate', async (t) => {
  const clock = new ManualClock(Date.now() + 12_345)
  const sn = await startSupernode(t, {}, clock)
  const community = new TestAuthority()
  const member = community.issue({ name: 'Anna (support)', role: 'technician', ipv6: { address: 'fd00:9::5', prefix: 64 } })
  const socket = await RawMember.open(t, sn.port, '127.0.0.79')
  const ack = await socket.register(member.announce())
  t.match(ack, { type: PacketType.RegisterAck, serverTimeMs: clock.now(), overlay: member.decoded.ipv4 })
  const [edge] = sn.status().edges
  t.match(edge, {
    id: formatEdgeId(member.edgeId),
    name: 'Anna (support)',
    role: 'technician',
    ip: `${member.decoded.ipv4!.address}/${member.decoded.ipv4!.prefix}`,
    ipv6: 'fd00:9::5',
    notAfter: new Date(member.decoded.notAfter * 1000).toISOString(),
    fingerprint: /^[a-z2-7]{32}$/,
  })
})
