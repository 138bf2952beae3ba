// Feeds the codec 200,000+ random and mutated datagrams: no exception may escape, every refusal
// must carry a reason from the closed set, and anything accepted must re-encode to the same bytes.
import t from 'tap'
import { CODEC_REASONS, MAX_PACKET_BYTES, decodePacket, zeroCounters, type CodecReason } from '../../src/wire/index.js'
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
  const rejected = zeroCounters(CODEC_REASONS)
  const known = new Set<string>(CODEC_REASONS)
  let accepted = 0
  let escaped = 0
  let unknownReason = 0
  let nonCanonical = 0
  let firstProblem = ''

  const feed = (buf: Buffer): void => {
    let result
    try {
      result = decodePacket(buf)
    } catch (err) {
      escaped++
      firstProblem ||= `exception on ${buf.toString('hex')}: ${String(err)}`
      return
    }
    if (!result.ok) {
      if (known.has(result.reason)) rejected[result.reason]++
      else unknownReason++
      return
    }
    accepted++
    if (!reencode(result.value).equals(buf)) {
      nonCanonical++
      firstProblem ||= `accepted but not canonical: ${buf.toString('hex')}`
    }
  }

  for (let i = 0; i < RANDOM_CASES; i++) {
    // mostly short, some at and beyond the size limit; some with a valid version byte to get past the first check
    const length = random() < 0.9 ? int(400) : MAX_PACKET_BYTES - 2 + int(5)
    const buf = randomBytes(length)
    if (length > 1 && random() < 0.5) buf[0] = 1
    feed(buf)
  }
  for (let i = 0; i < MUTATED_CASES; i++) feed(mutate(samples[i % samples.length]!))

  const totalRejected = Object.values(rejected).reduce((a, b) => a + b, 0)
  t.equal(escaped, 0, firstProblem || 'no exception escaped the codec')
  t.equal(unknownReason, 0, 'every refusal names a reason from the closed set')
  t.equal(nonCanonical, 0, firstProblem || 'every accepted datagram re-encodes to the same bytes')
  t.equal(accepted + totalRejected, RANDOM_CASES + MUTATED_CASES, 'every datagram was accepted or counted')
  const reasonsSeen = (Object.keys(rejected) as CodecReason[]).filter((r) => rejected[r] > 0)
  t.equal(reasonsSeen.length, CODEC_REASONS.length, `the mutations reach every refusal path (${reasonsSeen.length} of ${CODEC_REASONS.length})`)
  t.ok(accepted > 1000, `mutations that stay valid are accepted (${accepted})`)
  t.comment(`accepted ${accepted}; rejected by reason: ${JSON.stringify(rejected)}`)
  t.end()
})
