// Feeds the v2 session codec (handshake initiation and response, session data of every kind,
// broadcasts, and the payloads inside the handshake and of a broadcast key) random and mutated bytes: no exception escapes, every refusal names a
// reason from the closed set, every accepted packet re-encodes to the same bytes, and the
// mutations reach every refusal.
import t from 'tap'
import {
  SESSION_CODEC_REASONS,
  SESSION_WIRE_VERSION,
  decodeBroadcastKeyPayload,
  decodeInitPayload,
  decodeResponsePayload,
  decodeSessionPacket,
  encodeBroadcastKeyPayload,
  encodeInitPayload,
  encodeResponsePayload,
  type SessionCodecReason,
} from '../../src/wire/handshake.js'
import { MAX_PACKET_BYTES } from '../../src/wire/header.js'
import { zeroCounters } from '../../src/wire/reasons.js'
import { mutator } from '../fixtures/mutate.js'
import { prng } from '../fixtures/prng.js'
import { payloadSamples, reencodeSession, sessionSamples } from '../fixtures/session-samples.js'

const SEED = Number(process.env.FUZZ_SEED ?? 20261130)
const RANDOM_CASES = 20_000
const MUTATED_CASES = 100_000

const random = prng(SEED)
const int = (n: number): number => Math.floor(random() * n)
const packets = sessionSamples()
const payloads = payloadSamples()

function randomBytes(length: number): Buffer {
  const buf = Buffer.alloc(length)
  for (let i = 0; i < length; i++) buf[i] = int(256)
  return buf
}

const mutatePacket = mutator(random, { junkMax: 400, edgeValues: [0, 1, 2, 3, 4, 0x20, 0x21, 0x22, 0x23, 127, 128, 255], typeByte: () => [0x20, 0x21, 0x22, 0x23, 0x10][int(5)]!, others: packets })
const mutatePayload = mutator(random, { junkMax: 400, edgeValues: [0, 1, 2, 0x20, 0x21, 0x22, 127, 128, 255], typeByte: () => [0x20, 0x21, 0x22, 0x23, 0x10][int(5)]!, others: payloads })

t.test(`session codec survives ${RANDOM_CASES + MUTATED_CASES} hostile datagrams and payloads (seed ${SEED})`, (t) => {
  const rejected = zeroCounters(SESSION_CODEC_REASONS)
  const known = new Set<string>(SESSION_CODEC_REASONS)
  let accepted = 0
  let escaped = 0
  let unknownReason = 0
  let nonCanonical = 0
  let firstProblem = ''

  const check = (buf: Buffer, decode: () => { ok: boolean; reason?: SessionCodecReason }, reencode: () => Buffer): void => {
    let result
    try {
      result = decode()
    } catch (err) {
      escaped++
      firstProblem ||= `exception on ${buf.toString('hex')}: ${String(err)}`
      return
    }
    if (!result.ok) {
      if (known.has(result.reason!)) rejected[result.reason!]++
      else unknownReason++
      return
    }
    accepted++
    if (!reencode().equals(buf)) {
      nonCanonical++
      firstProblem ||= `accepted but not canonical: ${buf.toString('hex')}`
    }
  }
  const feedPacket = (buf: Buffer): void => {
    const decoded = decodeSessionPacket(buf)
    check(buf, () => decoded, () => (decoded.ok ? reencodeSession(decoded.value) : buf))
  }
  const feedPayload = (buf: Buffer): void => {
    const init = decodeInitPayload(buf)
    check(buf, () => init, () => (init.ok ? encodeInitPayload(init.value.timestamp, init.value.certificate) : buf))
    const response = decodeResponsePayload(buf)
    check(buf, () => response, () => (response.ok ? encodeResponsePayload(response.value) : buf))
    const key = decodeBroadcastKeyPayload(buf)
    check(buf, () => key, () => (key.ok ? Buffer.from(encodeBroadcastKeyPayload(Buffer.alloc(buf.length), key.value.keyId, key.value.key, key.value.validForSeconds)) : buf))
  }

  for (let i = 0; i < RANDOM_CASES; i++) {
    const length = random() < 0.9 ? int(500) : MAX_PACKET_BYTES - 2 + int(5)
    const buf = randomBytes(length)
    if (length > 4 && random() < 0.5) {
      buf[0] = SESSION_WIRE_VERSION
      buf[1] = 0x20 + int(4)
      buf[2] = buf[3] = 0
    }
    feedPacket(buf)
    if (i % 4 === 0) feedPayload(buf.subarray(0, int(320)))
  }
  for (let i = 0; i < MUTATED_CASES; i++) {
    feedPacket(mutatePacket(packets[i % packets.length]!))
    if (i % 4 === 0) feedPayload(mutatePayload(payloads[i % payloads.length]!))
  }

  t.equal(escaped, 0, firstProblem || 'no exception escaped the codec')
  t.equal(unknownReason, 0, 'every refusal names a reason from the closed set')
  t.equal(nonCanonical, 0, firstProblem || 'every accepted input re-encodes to the same bytes')
  const reasonsSeen = (Object.keys(rejected) as SessionCodecReason[]).filter((r) => rejected[r] > 0)
  t.same(
    SESSION_CODEC_REASONS.filter((r) => !reasonsSeen.includes(r)),
    [],
    `the mutations reach every refusal path (${reasonsSeen.length} of ${SESSION_CODEC_REASONS.length})`,
  )
  t.ok(accepted > 1000, `mutations that stay valid are accepted (${accepted})`)
  t.comment(`accepted ${accepted}; rejected by reason: ${JSON.stringify(rejected)}`)
  t.end()
})

t.test('the samples themselves decode and re-encode exactly', (t) => {
  t.equal(packets.length, 10, 'initiation, response, keepalive, four data packets, a probe-ack, a broadcast key, a broadcast')
  for (const p of packets) {
    const decoded = decodeSessionPacket(p)
    t.ok(decoded.ok && reencodeSession(decoded.value).equals(p), `type 0x${p[1]!.toString(16)}, ${p.length} bytes`)
  }
  t.end()
})
