// Shared measuring: run a timed loop several times, keep min / median / max, compare with a
// baseline measured in the same run (never an absolute number from another machine).
import sodium from 'sodium-native'

export interface Figure {
  name: string
  unit: string
  min: number
  median: number
  max: number
  runs: number
  /** the same figure for the baseline (raw sodium, raw dgram, the underlay), when there is one */
  baseline?: { name: string; median: number }
  /** median / baseline median */
  ratio?: number
  /** what we aim for, in words: "≥ 0.9 of raw", "≥ 150,000 frames/s" */
  target?: string
  met?: boolean
  note?: string
}

export const RUNS = 5

export function summarize(name: string, unit: string, samples: number[], extra: Partial<Figure> = {}): Figure {
  const sorted = [...samples].sort((a, b) => a - b)
  const median = sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2
  return { name, unit, min: sorted[0]!, median, max: sorted.at(-1)!, runs: samples.length, ...extra }
}

/** Operations per second of `op`, over `seconds`, `runs` times (a warm-up run first). */
export function opsPerSecond(op: () => void, seconds = 0.3, runs = RUNS): number[] {
  const results: number[] = []
  for (let run = -1; run < runs; run++) {
    let n = 0
    const start = process.hrtime.bigint()
    const until = start + BigInt(Math.round(seconds * 1e9))
    let now = start
    while (now < until) {
      for (let i = 0; i < 256; i++) op()
      n += 256
      now = process.hrtime.bigint()
    }
    if (run >= 0) results.push(n / (Number(now - start) / 1e9))
  }
  return results
}

/**
 * How fast this machine's CPU runs right now: sodium's Ed25519 verifies of a 200-byte message per
 * second, in this process, over `seconds`. On the shared machines here it moves by up to 1.5×
 * within minutes with no steal time reported, and every CPU-bound figure moves with it
 * (experiment 24): sampled beside a figure, it says in which state the machine was.
 */
export function machineSpeed(seconds = 0.2): number {
  const publicKey = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES)
  const secretKey = Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES)
  sodium.crypto_sign_keypair(publicKey, secretKey)
  const message = Buffer.alloc(200, 0x61)
  const signature = Buffer.alloc(sodium.crypto_sign_BYTES)
  sodium.crypto_sign_detached(signature, message, secretKey)
  return opsPerSecond(() => sodium.crypto_sign_verify_detached(signature, message, publicKey), seconds, 1)[0]!
}

export function withBaseline(figure: Figure, baseline: Figure, target?: { ratio: number }): Figure {
  const ratio = figure.median / baseline.median
  return { ...figure, baseline: { name: baseline.name, median: baseline.median }, ratio, ...(target ? { target: `≥ ${target.ratio} of ${baseline.name}`, met: ratio >= target.ratio } : {}) }
}
