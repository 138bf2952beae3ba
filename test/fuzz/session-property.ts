// Property-based fuzz target for the v2 session codec (src/wire/handshake.ts), run briefly in
// `npm test` and long in `npm run fuzz`: any bytes, plausible v2 headers over anything, and real
// session packets with edits never make it throw; refusals carry a known reason; whatever it
// accepts re-encodes to the same bytes.
import fc from 'fast-check'
import { SESSION_CODEC_REASONS, SESSION_WIRE_VERSION, SessionPacketType, decodeInitPayload, decodeSessionPacket, encodeInitPayload } from '../../src/wire/handshake.js'
import { MAX_PACKET_BYTES } from '../../src/wire/header.js'
import { reencodeSession, sessionSamples } from '../fixtures/session-samples.js'

const reasons = new Set<string>(SESSION_CODEC_REASONS)
const samples = sessionSamples()

const plausible = fc
  .tuple(fc.constantFrom(...Object.values(SessionPacketType)), fc.uint8Array({ maxLength: 500 }))
  .map(([type, body]) => Buffer.concat([Buffer.from([SESSION_WIRE_VERSION, type, 0, 0]), Buffer.from(body)]))

const edited = fc
  .tuple(fc.constantFrom(...samples), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.integer({ min: -40, max: 40 }))
  .map(([sample, edits, resize]) => {
    const buf = Buffer.from(sample)
    for (const [at, value] of edits) buf[at % buf.length] = value
    if (resize < 0) return buf.subarray(0, Math.max(0, buf.length + resize))
    return Buffer.concat([buf, Buffer.alloc(resize, 0xaa)])
  })

const anyInput = fc.oneof(fc.uint8Array({ maxLength: MAX_PACKET_BYTES + 16 }).map((a) => Buffer.from(a)), plausible, edited)

export const sessionCodecProperty = fc.property(anyInput, (buf) => {
  const packet = decodeSessionPacket(buf)
  if (!packet.ok && !reasons.has(packet.reason)) return false
  if (packet.ok && !reencodeSession(packet.value).equals(buf)) return false
  // the same bytes as the plaintext of an initiation
  const payload = decodeInitPayload(buf)
  if (!payload.ok) return reasons.has(payload.reason)
  return encodeInitPayload(payload.value.timestamp, payload.value.certificate).equals(buf)
})
