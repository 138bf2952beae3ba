// A short, bounded run of the property-based fuzz targets in every `npm test`; `npm run fuzz`
// runs them much longer (FUZZ_RUNS).
import fc from 'fast-check'
import t from 'tap'
import { apiValidationProperty, codecProperty, joinTokenProperty, jsonBodyProperty } from './properties.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 20_000)
const SEED = Number(process.env.FUZZ_SEED ?? 424242)

for (const [name, property] of [
  ['the wire codec', codecProperty],
  ["the assistance API's request validation", apiValidationProperty],
  ["the assistance API's JSON body parsing (depth limit)", jsonBodyProperty],
  ['join token parsing', joinTokenProperty],
] as const) {
  t.test(`${name}: ${RUNS} generated inputs (seed ${SEED})`, (t) => {
    const result = fc.check(property as fc.IProperty<unknown>, { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: 60_000 })
    t.notOk(result.failed, result.failed ? `counterexample: ${fc.stringify(result.counterexample)} (${String(result.errorInstance)})` : `${result.numRuns} inputs, none broke it`)
    t.ok(result.numRuns >= Math.min(RUNS, 1000), `ran ${result.numRuns}`)
    t.end()
  })
}
