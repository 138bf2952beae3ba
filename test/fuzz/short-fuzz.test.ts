// A short, bounded run of the property-based fuzz targets in every `npm test`; `npm run fuzz`
// runs them much longer (FUZZ_RUNS).
import fc from 'fast-check'
import t from 'tap'
import { coalescerProperty, coalescerPropertyTotals } from './coalescer-property.js'
import { apiValidationProperty, armorProperty, certificateProperty, codecProperty, joinTokenProperty, joinTokenV2Property, jsonBodyProperty, revocationProperty } from './properties.js'
import { sessionCodecProperty } from './session-property.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 20_000)
const SEED = Number(process.env.FUZZ_SEED ?? 424242)

for (const [name, property] of [
  ['the wire codec', codecProperty],
  ['the v2 session codec (handshakes, session data)', sessionCodecProperty],
  ["the assistance API's request validation", apiValidationProperty],
  ["the assistance API's JSON body parsing (depth limit)", jsonBodyProperty],
  ['join token parsing', joinTokenProperty],
  ['join token v2 parsing', joinTokenV2Property],
  ['certificate decoding', certificateProperty],
  ['revocation decoding', revocationProperty],
  ['key and certificate file text', armorProperty],
] as const) {
  t.test(`${name}: ${RUNS} generated inputs (seed ${SEED})`, (t) => {
    const result = fc.check(property as fc.IProperty<unknown>, { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: 60_000 })
    t.notOk(result.failed, result.failed ? `counterexample: ${fc.stringify(result.counterexample)} (${String(result.errorInstance)})` : `${result.numRuns} inputs, none broke it`)
    t.ok(result.numRuns >= Math.min(RUNS, 1000), `ran ${result.numRuns}`)
    t.end()
  })
}

// The coalescer's cases are whole sequences of frames (tens to hundreds each): a twentieth as many.
const COALESCER_RUNS = Math.ceil(RUNS / 20)

t.test(`the TAP's receive coalescing against writing each frame alone: ${COALESCER_RUNS} generated flows (seed ${SEED})`, (t) => {
  const result = fc.check(coalescerProperty, { numRuns: COALESCER_RUNS, seed: SEED, interruptAfterTimeLimit: 60_000 })
  t.notOk(result.failed, result.failed ? `counterexample: ${fc.stringify(result.counterexample)} (${String(result.errorInstance)})` : `${result.numRuns} cases, the host put the same bytes together every time`)
  t.ok(result.numRuns >= Math.min(COALESCER_RUNS, 200), `ran ${result.numRuns}`)
  const totals = coalescerPropertyTotals
  t.comment(`${totals.cases} cases: ${totals.mergedRuns} runs merged, ${totals.badChecksums} damaged segments kept out of runs, ${totals.bytesCompared} stream bytes compared`)
  t.ok(totals.mergedRuns > totals.cases, 'runs were merged (more than one per case on average)')
  t.ok(totals.badChecksums > 0, 'damaged segments were among them')
  t.end()
})
