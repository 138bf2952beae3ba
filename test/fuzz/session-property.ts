// Property-based fuzz target for the v2 session codec (src/wire/handshake.ts), run briefly in
// `npm test` and long in `npm run fuzz`: any bytes, plausible v2 headers over anything, and real
// session packets with edits never make it throw; refusals carry a known reason; whatever it
// accepts re-encodes to the same bytes.
import fc from 'fast-check'
import { SESSION_CODEC_REASONS, SESSION_WIRE_VERSION, SessionPacketType, decodeInitPayload, decodeSessionPacket, encodeInitPayload } from '../../src/wire/handshake.js'
import { MAX_PACKET_BYTES } from '../../src/wire/header.js'
import { reencodeSession, sessionSamples } from '../fixtures/session-samples.js'
import { editedSample } from './properties.js'

const reasons = new Set<string>(SESSION_CODEC_REASONS)
const samples = sessionSamples()

const plausible = fc
  .tuple(fc.constantFrom(...Object.values(SessionPacketType)), fc.uint8Array({ maxLength: 500 }))
  .map(([type, body]) => Buffer.concat([Buffer.from([SESSION_WIRE_VERSION, type, 0, 0]), Buffer.from(body)]))

const edited = editedSample(samples)

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
