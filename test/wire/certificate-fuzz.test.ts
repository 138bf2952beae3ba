// Feeds the certificate and revocation decoders random and mutated bytes: no exception escapes,
// every refusal names a reason of the decoder's closed set, the mutations reach every reason, and
// whatever is accepted re-encodes to the same bytes.
import t, { type Test } from 'tap'
import {
  CERTIFICATE_REASONS,
  MAX_CERTIFICATE_BYTES,
  REVOCATION_BYTES,
  REVOCATION_REASONS,
  decodeCertificate,
  decodeRevocation,
  type Decoded,
} from '../../src/wire/index.js'
import { FuzzTally } from '../fixtures/fuzz-tally.js'
import { mutator } from '../fixtures/mutate.js'
import { prng } from '../fixtures/prng.js'
import { reencodeCertificate, reencodeRevocation, sampleCertificates, sampleFirstFormatRevocation, sampleRevocations } from '../fixtures/sample-certificates.js'

const SEED = Number(process.env.FUZZ_SEED ?? 20261130)
const RANDOM_CASES = 20_000
const MUTATED_CASES = 120_000

const random = prng(SEED)
const int = (n: number): number => Math.floor(random() * n)

function randomBytes(length: number): Buffer {
  const buf = Buffer.alloc(length)
  for (let i = 0; i < length; i++) buf[i] = int(256)
  return buf
}

/** The shared mutations (bit flips, cuts, junk, edge values, splices, 0x00/0xff runs; byte 1 is the role), and one of our own. */
function mutatorFor(samples: Buffer[]): (base: Buffer) => Buffer {
  const shared = mutator(random, { junkMax: 80, edgeValues: [0, 1, 2, 3, 4, 31, 32, 63, 64, 65, 127, 128, 255], typeByte: () => int(5), others: samples })
  return (base) => {
    if (random() >= 1 / 8) return shared(base)
    // a time or serial field zeroed or made small: notAfter before notBefore, serial 0
    const buf = Buffer.from(base)
    const at = 4 + 8 * int(3)
    buf.fill(0, at, at + 8)
    if (random() < 0.5) buf.writeUInt32BE(int(2 ** 31), at + 4)
    return buf
  }
}

function fuzz<T, R extends string>(t: Test, name: string, decode: (buf: Buffer) => Decoded<T, R>, reencode: (value: T) => Buffer, reasons: readonly R[], samples: Buffer[], maxBytes: number): void {
  t.test(`${name} decoder survives ${RANDOM_CASES + MUTATED_CASES} hostile inputs (seed ${SEED})`, (t) => {
    const tally = new FuzzTally(decode, reencode, reasons)
    const feed = (buf: Buffer): void => tally.feed(buf)
    for (let i = 0; i < RANDOM_CASES; i++) {
      const buf = randomBytes(int(maxBytes + 20))
      if (buf.length > 0 && random() < 0.7) buf[0] = 1
      feed(buf)
    }
    const mutate = mutatorFor(samples)
    for (let i = 0; i < MUTATED_CASES; i++) feed(mutate(samples[i % samples.length]!))
    const { accepted, rejected, escaped, unknownReason, nonCanonical, firstProblem, totalRejected, reasonsSeen } = tally
    t.equal(escaped, 0, firstProblem || 'no exception escaped the decoder')
    t.equal(unknownReason, 0, 'every refusal names a reason from the closed set')
    t.equal(nonCanonical, 0, firstProblem || 'every accepted input re-encodes to the same bytes')
    t.equal(accepted + totalRejected, RANDOM_CASES + MUTATED_CASES, 'every input was accepted or counted')
    t.same(reasonsSeen, reasons, `the mutations reach every refusal (${reasonsSeen.length} of ${reasons.length})`)
    t.ok(accepted > 500, `mutations that stay valid are accepted (${accepted})`)
    t.comment(`accepted ${accepted}; rejected by reason: ${JSON.stringify(rejected)}`)
    t.end()
  })
}

fuzz(t, 'certificate', decodeCertificate, reencodeCertificate, CERTIFICATE_REASONS, sampleCertificates(), MAX_CERTIFICATE_BYTES)
fuzz(t, 'revocation', decodeRevocation, reencodeRevocation, REVOCATION_REASONS, [...sampleRevocations(), sampleFirstFormatRevocation()], REVOCATION_BYTES)
