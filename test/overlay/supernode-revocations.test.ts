// Revocations at the supernode, over loopback UDP: a REVOCATION signed by the community's authority
// removes the registered edge holding that certificate at once (the REVOCATION, then ERROR certificate-revoked to it),
// is passed on to every member of the community, and makes later REGISTERs with the certificate
// fail; the same revocation sent again costs no fan-out; one signed by anyone else, or for a
// community with nobody registered, is dropped and counted.
import t from 'tap'
import { ManualClock } from '../../src/time/manual-clock.js'
import { ErrorCode, PacketType, u53Bytes, u64From } from '../../src/wire/index.js'
import { RawMember } from '../fixtures/raw-member.js'
import { startSupernode, until } from '../fixtures/supernode-start.js'
import { TestAuthority } from '../fixtures/supernode-members.js'

const revocationsIn = (m: RawMember): number => m.received.filter((msg) => msg[1] === PacketType.Revocation).length

t.test('a revocation removes the edge at once, reaches every member, and refuses the certificate from then on', async (t) => {
  const clock = new ManualClock(Date.now())
  const sn = await startSupernode(t, {}, clock)
  const community = new TestAuthority()
  const device = community.issue({ role: 'device' })
  const technician = community.issue({ role: 'technician', name: 'Bob' })
  const colleague = community.issue({ role: 'technician' })
  const stranger = new TestAuthority().issue()
  const sockets = await Promise.all(['127.0.0.91', '127.0.0.92', '127.0.0.93', '127.0.0.94'].map((address) => RawMember.open(t, sn.port, address)))
  const [deviceSocket, technicianSocket, colleagueSocket, strangerSocket] = sockets as [RawMember, RawMember, RawMember, RawMember]
  for (const [socket, member] of [
    [deviceSocket, device],
    [technicianSocket, technician],
    [colleagueSocket, colleague],
    [strangerSocket, stranger],
  ] as const) {
    t.equal((await socket.register(member.announce())).type, PacketType.RegisterAck)
  }
  const nonce = sn.registry.edges.get(technician.edgeId)!.nonce

  const told = technicianSocket.answer([PacketType.Error])
  deviceSocket.send(community.revoke(technician))
  const error = await told
  t.match(error, { type: PacketType.Error, code: ErrorCode.CertificateRevoked }, 'the revoked technician is told')
  if (error.type === PacketType.Error) {
    t.equal(u64From(error.proof), nonce, "proof: its registration's nonce")
    t.same(error.subject, u53Bytes(technician.edgeId), 'subject: its edge ID')
  }
  t.notOk(sn.registry.edges.has(technician.edgeId), 'removed at once (no clock moved)')
  await until('passed on', () => revocationsIn(deviceSocket) === 1 && revocationsIn(colleagueSocket) === 1)
  t.equal(revocationsIn(strangerSocket), 0, 'not to another community')
  t.equal(sn.counters.revocationsAdded, 1)
  t.equal(sn.counters.revokedEdgesRemoved, 1)
  t.equal(sn.counters.revocationsForwarded, 3, 'the two members left, once each, and the revoked one before its ERROR')
  t.equal(revocationsIn(technicianSocket), 1, 'the revoked technician got the signed revocation (its cause) too')
  t.equal(sn.status().revocations, 1)

  t.match(await technicianSocket.register(technician.announce()), { type: PacketType.Error, code: ErrorCode.CertificateRevoked }, 'registering again: refused')
  t.equal(sn.drops['certificate-revoked'], 1, 'counted')

  // the authority's edge re-sends its revocations with its registrations: known ones cost nothing
  const forwarded = sn.counters.relayedFrames + sn.counters.revocationsForwarded
  for (let i = 0; i < 5; i++) deviceSocket.send(community.revoke(technician, Math.floor(clock.now() / 1000) + i))
  await until('re-sent ones seen', () => sn.counters.revocationsKnown === 5)
  t.equal(sn.counters.relayedFrames + sn.counters.revocationsForwarded, forwarded, 'five re-sends: no fan-out')
})

t.test('a revocation signed by another authority, or for a community with nobody here, is dropped and counted', async (t) => {
  const sn = await startSupernode(t)
  const community = new TestAuthority()
  const member = community.issue()
  const socket = await RawMember.open(t, sn.port, '127.0.0.95')
  t.equal((await socket.register(member.announce())).type, PacketType.RegisterAck)

  // the revocation names the community's authority key but is signed with another key: flip a signature byte
  const forged = community.revoke(member)
  forged[forged.length - 1]! ^= 1
  socket.send(forged)
  await until('forged counted', () => sn.drops['revocation-bad-signature'] === 1)
  t.ok(sn.registry.edges.has(member.edgeId), 'the member stays')

  const elsewhere = new TestAuthority()
  socket.send(elsewhere.revoke(elsewhere.issue()))
  await until('unknown community counted', () => sn.drops['revocation-unknown-community'] === 1)
  t.equal(sn.status().revocations, 0, 'nothing kept')
  t.equal(revocationsIn(socket), 0, 'nothing passed on')
})
