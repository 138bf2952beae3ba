// Expiry enforced by the supernode, by its own (injected) clock, whatever the edge's says: a
// certificate past notAfter is refused; a registered edge is unregistered within a second of its
// certificate's notAfter and told so (ERROR certificate-expired, proof = its registration's nonce,
// subject = its edge ID); a certificate whose notBefore is ahead is accepted within the 60 s skew
// tolerance (CLOCK_SKEW_SECONDS) and refused beyond it.
import t from 'tap'
import { CLOCK_SKEW_SECONDS } from '../../src/crypto/index.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { ErrorCode, PacketType, u53Bytes, u64From } from '../../src/wire/index.js'
import { RawMember } from '../fixtures/raw-member.js'
import { startSupernode } from '../fixtures/supernode-start.js'
import { TestAuthority } from '../fixtures/supernode-members.js'

t.test('a certificate past notAfter is refused (certificate-expired), by the supernode clock', async (t) => {
  const clock = new ManualClock(Date.now())
  const sn = await startSupernode(t, {}, clock)
  const nowSeconds = Math.floor(clock.now() / 1000)
  const member = new TestAuthority().issue({ notBefore: nowSeconds - 7200, notAfter: nowSeconds })
  const socket = await RawMember.open(t, sn.port, '127.0.0.81')
  t.match(await socket.register(member.announce()), { type: PacketType.Error, code: ErrorCode.CertificateExpired }, 'at notAfter: refused, no tolerance')
  t.equal(sn.drops['certificate-expired'], 1, 'counted')
  t.equal(sn.registry.edges.size, 0)
})

t.test('a registered edge is unregistered at notAfter and receives ERROR certificate-expired', async (t) => {
  const clock = new ManualClock(Date.now())
  const sn = await startSupernode(t, {}, clock)
  const nowSeconds = Math.floor(clock.now() / 1000)
  const community = new TestAuthority()
  const shortLived = community.issue({ notAfter: nowSeconds + 3 })
  const longLived = community.issue()
  const socket = await RawMember.open(t, sn.port, '127.0.0.82')
  const other = await RawMember.open(t, sn.port, '127.0.0.83')
  t.equal((await socket.register(shortLived.announce())).type, PacketType.RegisterAck)
  t.equal((await other.register(longLived.announce())).type, PacketType.RegisterAck)
  const nonce = sn.registry.edges.get(shortLived.edgeId)!.nonce

  const ended = socket.answer([PacketType.Error])
  // each second the supernode checks: nothing before notAfter
  await clock.advance((nowSeconds + 2) * 1000 - clock.now() + 999, 1000)
  t.ok(sn.registry.edges.has(shortLived.edgeId), 'a millisecond before notAfter: still registered')
  await clock.advance(1000, 1000)
  const error = await ended
  t.match(error, { type: PacketType.Error, code: ErrorCode.CertificateExpired }, 'the edge is told')
  if (error.type !== PacketType.Error) return
  t.equal(u64From(error.proof), nonce, "proof: its registration's nonce")
  t.same(error.subject, u53Bytes(shortLived.edgeId), 'subject: its edge ID')
  t.notOk(sn.registry.edges.has(shortLived.edgeId), 'unregistered')
  t.ok(sn.registry.edges.has(longLived.edgeId), 'the other member is not')
  t.equal(sn.counters.certificateExpirations, 1, 'counted')
  // and it cannot come back with the same certificate
  t.match(await socket.register(shortLived.announce()), { type: PacketType.Error, code: ErrorCode.CertificateExpired })
})

t.test('notBefore ahead of the supernode clock: accepted within the skew tolerance, refused beyond it', async (t) => {
  const clock = new ManualClock(Date.now())
  const sn = await startSupernode(t, {}, clock)
  const nowSeconds = Math.floor(clock.now() / 1000)
  const community = new TestAuthority()
  const socket = await RawMember.open(t, sn.port, '127.0.0.84')
  const within = community.issue({ notBefore: nowSeconds + CLOCK_SKEW_SECONDS })
  t.equal((await socket.register(within.announce())).type, PacketType.RegisterAck, `notBefore ${CLOCK_SKEW_SECONDS} s ahead: accepted`)
  const beyond = community.issue({ notBefore: nowSeconds + CLOCK_SKEW_SECONDS + 1 })
  const answer = await socket.register(beyond.announce())
  t.match(answer, { type: PacketType.Error, code: ErrorCode.CertificateNotYetValid }, `${CLOCK_SKEW_SECONDS + 1} s ahead: certificate-not-yet-valid`)
  t.equal(sn.drops['certificate-not-yet-valid'], 1, 'counted')
  t.equal(sn.registry.edges.size, 1, 'only the one within the tolerance is registered')
})
