// The systemd units in deploy/ forbid core dumps (LimitCORE=0): a dump would write the process's
// keys to disk, where zeroing them at the end of a session cannot reach.
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url))

/** The key=value lines of one [Section] of a unit file. */
function section(text: string, name: string): Map<string, string> {
  const lines = text.split('\n')
  const start = lines.indexOf(`[${name}]`)
  const settings = new Map<string, string>()
  if (start < 0) return settings
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('[')) break
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim())
    if (match) settings.set(match[1]!, match[2]!)
  }
  return settings
}

t.test('every unit in deploy/ sets LimitCORE=0 in its [Service] section', (t) => {
  const units = readdirSync(DEPLOY).filter((f) => f.endsWith('.service'))
  t.ok(units.length >= 2, `units: ${units.join(', ')}`)
  for (const unit of units) {
    t.equal(section(readFileSync(DEPLOY + unit, 'utf8'), 'Service').get('LimitCORE'), '0', `${unit}: no core dumps`)
  }
  t.end()
})
