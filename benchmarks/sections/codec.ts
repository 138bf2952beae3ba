// Encode and decode of every packet type through the one codec (ops/s).
import { decodePacket } from '../../src/wire/index.js'
import { allSamples } from '../../test/fixtures/sample-packets.js'
import { reencode } from '../../test/fixtures/reencode.js'
import { opsPerSecond, summarize, type Figure } from '../measure.js'

export function codecSection(): Promise<Figure[]> {
  const figures: Figure[] = []
  for (const [name, buf] of allSamples()) {
    const decoded = decodePacket(buf)
    if (!decoded.ok) throw new Error(`sample ${name} does not decode`)
    figures.push(summarize(`decode ${name}`, 'ops/s', opsPerSecond(() => void decodePacket(buf), 0.15)))
    figures.push(summarize(`encode ${name}`, 'ops/s', opsPerSecond(() => void reencode(decoded.value), 0.15)))
  }
  return Promise.resolve(figures)
}
