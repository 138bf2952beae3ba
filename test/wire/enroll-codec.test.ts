// ENROLL (0x0d) and what its sealed messages carry, and REVOCATION format 2 (with its cause): strict
// decoding with a named reason for each refusal, canonical re-encoding, format 1 still read.
import t from 'tap'
import { verifyRevocation } from '../../src/crypto/index.js'
import {
  EnrollKind,
  EnrollStep,
  FIRST_REVOCATION_FORMAT,
  MAX_ENROLL_MESSAGE_BYTES,
  MAX_ENROLL_NAME_BYTES,
  MAX_PACKET_BYTES,
  PacketType,
  REVOCATION_FORMAT,
  RevocationCause,
  decodeEnrollRequestBody,
  decodeEnrollStatus,
  decodePacket,
  decodeRevocation,
  encodeEnrollAsk,
  encodeEnrollReply,
  encodeEnrollRequestBody,
  encodeEnrollStatus,
} from '../../src/wire/index.js'
import { communityIdOf } from '../../src/crypto/index.js'
import { sampleAuthority, sampleFirstFormatRevocation, sampleRevocations } from '../fixtures/sample-certificates.js'
import { allSamples } from '../fixtures/sample-packets.js'

const samples = allSamples()

t.test('each leg of ENROLL decodes to its fields and back to the same bytes', (t) => {
  for (const name of ['EnrollAsk', 'EnrollOffer', 'EnrollAnswer', 'EnrollReply']) {
    const bytes = samples.get(name)!
    const decoded = decodePacket(bytes)
    t.ok(decoded.ok && decoded.value.type === PacketType.Enroll, `${name} decodes`)
  }
  const ask = decodePacket(samples.get('EnrollAsk')!)
  if (!ask.ok || ask.value.type !== PacketType.Enroll || ask.value.kind !== EnrollKind.Ask) throw new Error('ask')
  t.equal(ask.value.deviceId, 0x0abc_def0_1234)
  t.equal(ask.value.step, EnrollStep.Hello)
  t.equal(ask.value.message.length, 48)
  const offer = decodePacket(samples.get('EnrollOffer')!)
  t.ok(offer.ok && offer.value.type === PacketType.Enroll && offer.value.kind === EnrollKind.Offer && offer.value.from.address === '203.0.113.7', 'the offer names where the ask came from')
  t.end()
})

t.test('bad ENROLLs are refused with a named reason, never thrown', (t) => {
  const reply = samples.get('EnrollReply')!
  const withFlags = Buffer.from(reply)
  withFlags[2] = 9
  t.same(decodePacket(withFlags), { ok: false, reason: 'bad-enroll-kind' })
  const withStep = Buffer.from(reply)
  withStep[4 + 8] = 5
  t.same(decodePacket(withStep), { ok: false, reason: 'bad-enroll-step' })
  t.same(decodePacket(reply.subarray(0, 4 + 8 + 1)), { ok: false, reason: 'truncated' }, 'no message')
  const reserved = Buffer.from(reply)
  reserved[3] = 1
  t.same(decodePacket(reserved), { ok: false, reason: 'nonzero-reserved' })
  const answer = Buffer.from(samples.get('EnrollAnswer')!)
  answer.fill(0, 4, 12)
  t.same(decodePacket(answer), { ok: false, reason: 'bad-edge-id' }, 'device ID 0')
  // a reply longer than the longest message an ask can carry: the encoder refuses it, so the decoder does
  const long = Buffer.concat([reply.subarray(0, 13), Buffer.alloc(MAX_ENROLL_MESSAGE_BYTES + 1)])
  t.ok(long.length <= MAX_PACKET_BYTES)
  t.same(decodePacket(long), { ok: false, reason: 'oversized' })
  t.throws(() => encodeEnrollReply({ exchange: Buffer.alloc(8), step: EnrollStep.Sealed, message: Buffer.alloc(0) }), /1\.\./, 'an empty message is a bug')
  t.throws(() => encodeEnrollAsk({ clientNonce: Buffer.alloc(8), cookie: Buffer.alloc(20), communityId: Buffer.alloc(16), deviceId: 0, exchange: Buffer.alloc(8), step: 1, message: Buffer.alloc(1) }), /device edge ID/)
  t.end()
})

t.test('the request body: timestamp and name, strictly', (t) => {
  const body = encodeEnrollRequestBody({ timestampMs: 1_800_000_000_000, name: 'Zoë (ACME)' })
  t.same(decodeEnrollRequestBody(body), { ok: true, value: { timestampMs: 1_800_000_000_000, name: 'Zoë (ACME)' } })
  t.same(decodeEnrollRequestBody(Buffer.concat([body, Buffer.from([0])])), { ok: false, reason: 'trailing-bytes' })
  t.same(decodeEnrollRequestBody(body.subarray(0, 5)), { ok: false, reason: 'truncated' })
  const v = Buffer.from(body)
  v[0] = 2
  t.same(decodeEnrollRequestBody(v), { ok: false, reason: 'bad-version' })
  const control = Buffer.from(body)
  control[10] = 0x07
  t.same(decodeEnrollRequestBody(control), { ok: false, reason: 'bad-name' }, 'a control character')
  const notUtf8 = Buffer.from(body)
  notUtf8[10] = 0xff
  t.same(decodeEnrollRequestBody(notUtf8), { ok: false, reason: 'bad-name' }, 'not UTF-8')
  t.throws(() => encodeEnrollRequestBody({ timestampMs: 1, name: 'x'.repeat(MAX_ENROLL_NAME_BYTES + 1) }), /name: at most 64 bytes/)
  t.end()
})

t.test('the status: waiting, admitted with a certificate, denied, closed', (t) => {
  for (const state of ['waiting', 'denied', 'closed'] as const) t.same(decodeEnrollStatus(encodeEnrollStatus({ state })), { ok: true, value: { state } })
  const admitted = decodeEnrollStatus(encodeEnrollStatus({ state: 'admitted', certificate: Buffer.from('cert') }))
  t.ok(admitted.ok && admitted.value.state === 'admitted' && admitted.value.certificate.toString() === 'cert')
  t.same(decodeEnrollStatus(Buffer.from([2, 0])), { ok: false, reason: 'truncated' }, 'admitted without a certificate')
  t.same(decodeEnrollStatus(Buffer.from([9, 0])), { ok: false, reason: 'bad-state' })
  t.same(decodeEnrollStatus(Buffer.from([1, 1])), { ok: false, reason: 'nonzero-reserved' })
  t.same(decodeEnrollStatus(Buffer.from([1, 0, 0])), { ok: false, reason: 'trailing-bytes' })
  t.end()
})

t.test('revocation format 2 carries a signed cause; format 1 still decodes and verifies (cause 0)', (t) => {
  const communityId = communityIdOf(sampleAuthority.publicKey)
  const causes = sampleRevocations().map((bytes) => {
    const decoded = decodeRevocation(bytes)
    if (!decoded.ok) throw new Error(decoded.reason)
    t.equal(decoded.value.format, REVOCATION_FORMAT)
    t.same(verifyRevocation(decoded.value, communityId), { ok: true })
    return decoded.value.cause
  })
  t.ok([RevocationCause.Unspecified, RevocationCause.Disconnected, RevocationCause.SessionEnded].every((c) => causes.includes(c)), 'every cause is written and read')
  const old = decodeRevocation(sampleFirstFormatRevocation())
  t.ok(old.ok && old.value.format === FIRST_REVOCATION_FORMAT && old.value.cause === 0, 'format 1 decodes with cause 0')
  if (old.ok) t.same(verifyRevocation(old.value, communityId), { ok: true }, 'and its signature verifies')
  const changed = Buffer.from(sampleRevocations()[0]!)
  changed[1] = RevocationCause.Disconnected === changed[1] ? 2 : 1
  const decoded = decodeRevocation(changed)
  t.ok(decoded.ok && verifyRevocation(decoded.value, communityId).ok === false, 'the cause is signed: changing it breaks the signature')
  const badCause = Buffer.from(sampleRevocations()[0]!)
  badCause[1] = 3
  t.same(decodeRevocation(badCause), { ok: false, reason: 'bad-cause' })
  const oldWithCause = Buffer.from(sampleFirstFormatRevocation())
  oldWithCause[1] = 1
  t.same(decodeRevocation(oldWithCause), { ok: false, reason: 'nonzero-reserved' }, "format 1's byte is reserved")
  t.end()
})
