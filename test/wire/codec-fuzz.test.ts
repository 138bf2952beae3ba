// Feeds the codec 200,000+ random and mutated datagrams: no exception may escape, every refusal
// must carry a reason from the closed set, and anything accepted must re-encode to the same bytes.
import t from 'tap'
import { CODEC_REASONS, MAX_PACKET_BYTES, decodePacket } from '../../src/wire/index.js'
import { FuzzTally } from '../fixtures/fuzz-tally.js'
import { mutator } from '../fixtures/mutate.js'
import { prng } from '../fixtures/prng.js'
import { reencode } from '../fixtures/reencode.js'
import { allSamples } from '../fixtures/sample-packets.js'

const SEED = Number(process.env.FUZZ_SEED ?? 20261123)
const RANDOM_CASES = 50_000
const MUTATED_CASES = 160_000

const random = prng(SEED)
const int = (n: number): number => Math.floor(random() * n)
const samples = [...allSamples().values()]

function randomBytes(length: number): Buffer {
  const buf = Buffer.alloc(length)
  for (let i = 0; i < length; i++) buf[i] = int(256)
  return buf
}

// edge values: lengths and counts of the record (the name length sits at a fixed offset from its start) at their limits
const mutate = mutator(random, { junkMax: 40, edgeValues: [0, 1, 4, 5, 31, 32, 33, 127, 128, 255], typeByte: () => samples[int(samples.length)]![1]!, others: samples })

t.test(`codec survives ${RANDOM_CASES + MUTATED_CASES} hostile datagrams (seed ${SEED})`, (t) => {
  const tally = new FuzzTally(decodePacket, reencode, CODEC_REASONS)
  const feed = (buf: Buffer): void => tally.feed(buf)

  for (let i = 0; i < RANDOM_CASES; i++) {
    // mostly short, some at and beyond the size limit; some with a valid version byte to get past the first check
    const length = random() < 0.9 ? int(400) : MAX_PACKET_BYTES - 2 + int(5)
    const buf = randomBytes(length)
    if (length > 1 && random() < 0.5) buf[0] = 1
    feed(buf)
  }
  for (let i = 0; i < MUTATED_CASES; i++) feed(mutate(samples[i % samples.length]!))

  const { accepted, rejected, escaped, unknownReason, nonCanonical, firstProblem, totalRejected, reasonsSeen } = tally
  t.equal(escaped, 0, firstProblem || 'no exception escaped the codec')
  t.equal(unknownReason, 0, 'every refusal names a reason from the closed set')
  t.equal(nonCanonical, 0, firstProblem || 'every accepted datagram re-encodes to the same bytes')
  t.equal(accepted + totalRejected, RANDOM_CASES + MUTATED_CASES, 'every datagram was accepted or counted')
  t.equal(reasonsSeen.length, CODEC_REASONS.length, `the mutations reach every refusal path (${reasonsSeen.length} of ${CODEC_REASONS.length})`)
  t.ok(accepted > 1000, `mutations that stay valid are accepted (${accepted})`)
  t.comment(`accepted ${accepted}; rejected by reason: ${JSON.stringify(rejected)}`)
  t.end()
})
