// Property-based fuzz targets (fast-check), shared by the short run in `npm test` and the long one
// in `npm run fuzz`: arbitrary bytes and structured-but-wrong inputs never make the codec or the
// assistance API's validation throw anything but their own refusals.
import fc from 'fast-check'
import { HttpError, MAX_BODY_BYTES, MAX_JSON_DEPTH, parseAssistanceRequest, parseJsonBody } from '../../src/assist/api.js'
import { decodeJoinToken, decodeJoinTokenV2 } from '../../src/assist/join-token.js'
import { sampleJoinTokenV2 } from '../fixtures/join-token-v2.js'
import { unarmor } from '../../src/crypto/armor.js'
import {
  CERTIFICATE_REASONS,
  CODEC_REASONS,
  HEADER_BYTES,
  MAX_CERTIFICATE_BYTES,
  MAX_PACKET_BYTES,
  PacketType,
  REVOCATION_BYTES,
  REVOCATION_REASONS,
  WIRE_VERSION,
  decodeCertificate,
  decodePacket,
  decodeRevocation,
} from '../../src/wire/index.js'
import { reencode } from '../fixtures/reencode.js'
import { reencodeCertificate, reencodeRevocation, sampleCertificates, sampleRevocations } from '../fixtures/sample-certificates.js'
import { allSamples } from '../fixtures/sample-packets.js'

const reasons = new Set<string>(CODEC_REASONS)
const samples = [...allSamples().values()]
const types = Object.values(PacketType)

/** Datagrams that mostly get past the first checks: a valid version and type, then anything. */
const plausibleDatagram = fc
  .tuple(fc.constantFrom(...types), fc.uint8Array({ minLength: 0, maxLength: 400 }))
  .map(([type, body]) => Buffer.concat([Buffer.from([WIRE_VERSION, type, 0, 0]), Buffer.from(body)]))

/** One of `samples` (real packets) with a few bytes changed, cut or extended. */
export function editedSample(samples: Buffer[]): fc.Arbitrary<Buffer> {
  return fc
    .tuple(fc.constantFrom(...samples), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.integer({ min: -40, max: 40 }))
    .map(([sample, edits, resize]) => {
      const buf = Buffer.from(sample)
      for (const [at, value] of edits) buf[at % buf.length] = value
      if (resize < 0) return buf.subarray(0, Math.max(0, buf.length + resize))
      return Buffer.concat([buf, Buffer.alloc(resize, 0xaa)])
    })
}

const mutatedSample = editedSample(samples)

const anyDatagram = fc.oneof(fc.uint8Array({ maxLength: MAX_PACKET_BYTES + 16 }).map((a) => Buffer.from(a)), plausibleDatagram, mutatedSample)

/** The codec: never throws; refuses with a known reason; whatever it accepts re-encodes to the same bytes. */
export const codecProperty = fc.property(anyDatagram, (buf) => {
  const result = decodePacket(buf)
  if (!result.ok) return reasons.has(result.reason) && (buf.length >= HEADER_BYTES || result.reason === 'truncated' || result.reason === 'bad-version' || result.reason === 'unknown-type')
  return reencode(result.value).equals(buf)
})

/** JSON values of every shape, including the fields the API knows with wrong types. */
const jsonish = fc.oneof(
  fc.jsonValue(),
  fc.record({ enabled: fc.jsonValue(), durationSeconds: fc.jsonValue(), adminAccess: fc.jsonValue() }, { requiredKeys: [] }),
  fc.record({ enabled: fc.boolean(), durationSeconds: fc.oneof(fc.integer(), fc.double(), fc.string()), adminAccess: fc.oneof(fc.boolean(), fc.integer()) }, { requiredKeys: ['enabled'] }),
  fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue(), { maxKeys: 5 }),
)

/** The API's validation: accepts exactly the documented shape, refuses anything else with a 400 naming a field. */
export const apiValidationProperty = fc.property(jsonish, (value) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return true // refused earlier by readJson
  try {
    const parsed = parseAssistanceRequest(value)
    const body = value as Record<string, unknown>
    const keysOk = Object.keys(body).every((k) => ['enabled', 'durationSeconds', 'adminAccess'].includes(k))
    if (!keysOk || typeof body.enabled !== 'boolean') return false
    if (!parsed.enabled) return !('durationSeconds' in body) && !('adminAccess' in body)
    return Number.isInteger(parsed.durationSeconds) && parsed.durationSeconds >= 1 && parsed.durationSeconds <= 86_400 && typeof parsed.adminAccess === 'boolean'
  } catch (err) {
    return err instanceof HttpError && err.status === 400 && typeof err.field === 'string' && err.message.length > 0
  }
})

/** How deep a parsed JSON value nests arrays and objects (a scalar: 0). */
function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0
  return 1 + Math.max(0, ...Object.values(value).map(depthOf))
}

/** Bodies as they arrive: any text, any JSON, and JSON nested to every depth a body of MAX_BODY_BYTES allows, closed or not, with brackets inside strings. */
const bodyText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.jsonValue({ maxDepth: 12 }).map((v) => JSON.stringify(v)),
  fc
    .tuple(fc.integer({ min: 1, max: MAX_BODY_BYTES / 2 }), fc.constantFrom('[', '{"a":', '["[",', '{"}{":'), fc.boolean(), fc.jsonValue({ maxDepth: 2 }))
    .map(([levels, opener, closed, inner]) => {
      const closer = opener.startsWith('[') ? ']' : '}'
      return `{"enabled":${opener.repeat(levels)}${JSON.stringify(inner)}${closed ? closer.repeat(levels) : ''}}`
    }),
)

/** The API's body parsing: an object nested MAX_JSON_DEPTH deep at most, exactly as JSON.parse reads it, or a 400 that says why. */
export const jsonBodyProperty = fc.property(bodyText, (text) => {
  let expected: unknown
  try {
    expected = JSON.parse(text)
  } catch {
    expected = undefined
  }
  try {
    const body = parseJsonBody(text)
    return depthOf(body) <= MAX_JSON_DEPTH && JSON.stringify(body) === JSON.stringify(expected)
  } catch (err) {
    if (!(err instanceof HttpError) || err.status !== 400 || err.message.length === 0) return false
    // valid JSON objects are refused only for their depth
    const isObject = typeof expected === 'object' && expected !== null && !Array.isArray(expected)
    return !isObject || (depthOf(expected) > MAX_JSON_DEPTH && /deeper than/.test(err.message))
  }
})

/** Join tokens pasted by people: anything either decodes or gets a one-line Error, never a crash. */
export const joinTokenProperty = fc.property(
  fc.oneof(fc.string(), fc.jsonValue().map((v) => 'ovl1.' + Buffer.from(JSON.stringify(v)).toString('base64url'))),
  (text) => {
    try {
      decodeJoinToken(text)
      return true
    } catch (err) {
      return err instanceof Error && !err.message.includes('\n')
    }
  },
)

/** ovl2 tokens: a real one with bytes changed, cut or extended, and random bytes after the prefix: decoded, or one line that never shows the secret. */
const sampleV2 = sampleJoinTokenV2()
const sampleV2Bytes = Buffer.from(sampleV2.text.slice(5), 'base64url')
export const joinTokenV2Property = fc.property(
  fc.oneof(editedSample([sampleV2Bytes]), fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a))).map((b) => 'ovl2.' + b.toString('base64url')),
  (text) => {
    try {
      decodeJoinTokenV2(text)
      return true
    } catch (err) {
      return err instanceof Error && !err.message.includes('\n') && !err.message.includes(sampleV2.token.enrollmentSecret.toString('hex')) && !err.message.includes(sampleV2.token.enrollmentSecret.toString('base64url'))
    }
  },
)

/** Mutated valid encodings, and random bytes up to a little beyond the largest valid one. */
function hostileFrom(valid: Buffer[], maxBytes: number): fc.Arbitrary<Buffer> {
  return fc.oneof(editedSample(valid), fc.uint8Array({ maxLength: maxBytes + 8 }).map((a) => Buffer.from(a)))
}

const certificateReasons = new Set<string>(CERTIFICATE_REASONS)
const revocationReasons = new Set<string>(REVOCATION_REASONS)

/** Certificates: never a throw; a refusal from the closed set; an accepted one re-encodes to its bytes. */
export const certificateProperty = fc.property(hostileFrom(sampleCertificates(), MAX_CERTIFICATE_BYTES), (buf) => {
  const result = decodeCertificate(buf)
  return result.ok ? reencodeCertificate(result.value).equals(buf) : certificateReasons.has(result.reason)
})

/** Revocations: the same. */
export const revocationProperty = fc.property(hostileFrom(sampleRevocations(), REVOCATION_BYTES), (buf) => {
  const result = decodeRevocation(buf)
  return result.ok ? reencodeRevocation(result.value).equals(buf) : revocationReasons.has(result.reason)
})

/** Key and certificate files as people edit them: read back or refused with a one-line problem, never a crash. */
export const armorProperty = fc.property(
  fc.oneof(
    fc.string({ maxLength: 120 }).map((s) => Buffer.from(`overlan-certificate-v1 ${s}`)),
    fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.concat([Buffer.from('overlan-certificate-v1 '), Buffer.from(a)])),
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(`overlan-certificate-v1 ${Buffer.from(a).toString('base64')}\n`)),
  ),
  (text) => {
    const result = unarmor('certificate', text)
    if (!result.ok) return result.problem.length > 0 && !result.problem.includes('\n')
    // what is accepted is exactly Node's base64 of the bytes, nothing else
    return text.toString().replace(/\n$/, '') === `overlan-certificate-v1 ${result.bytes.toString('base64')}`
  },
)
