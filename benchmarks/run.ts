// `npm run bench [-- --only NAME ...]`: measures, prints a table, writes benchmarks/results/latest.json.
// Every speed figure is a ratio against a baseline taken in the same run on the same machine.
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { Figure } from './measure.js'
import { broadcastSection } from './sections/broadcast.js'
import { capacitySection } from './sections/capacity.js'
import { certificatesSection } from './sections/certificates.js'
import { codecSection } from './sections/codec.js'
import { cryptoSection } from './sections/crypto.js'
import { datapathSection } from './sections/datapath.js'
import { fallbackSection } from './sections/fallback.js'
import { labSection } from './sections/lab.js'
import { sessionsSection } from './sections/sessions.js'
import { setupSection } from './sections/setup.js'
import { userspaceSection } from './sections/userspace.js'

const SECTIONS: Record<string, { needsRoot: boolean; run: () => Promise<Figure[]> }> = {
  crypto: { needsRoot: false, run: cryptoSection },
  codec: { needsRoot: false, run: codecSection },
  datapath: { needsRoot: false, run: datapathSection },
  broadcast: { needsRoot: false, run: broadcastSection },
  capacity: { needsRoot: false, run: capacitySection },
  certificates: { needsRoot: false, run: certificatesSection },
  sessions: { needsRoot: false, run: sessionsSection },
  lab: { needsRoot: true, run: labSection },
  setup: { needsRoot: true, run: setupSection },
  fallback: { needsRoot: true, run: fallbackSection },
  userspace: { needsRoot: true, run: userspaceSection },
}

function parseOnly(argv: string[]): string[] {
  const only: string[] = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only' && argv[i + 1] !== undefined) only.push(...argv[++i]!.split(','))
  }
  for (const name of only) if (!(name in SECTIONS)) throw new Error(`no section "${name}"; sections: ${Object.keys(SECTIONS).join(', ')}`)
  return only.length > 0 ? only : Object.keys(SECTIONS)
}

function format(n: number): string {
  if (n >= 1000) return Math.round(n).toLocaleString('en-US')
  if (n >= 10) return n.toFixed(1)
  return n.toFixed(3)
}

async function main(): Promise<void> {
  const names = parseOnly(process.argv.slice(2))
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, date: new Date().toISOString() }
  const results: Record<string, Figure[] | { skipped: string }> = {}
  const isRoot = process.getuid?.() === 0
  for (const name of names) {
    const section = SECTIONS[name]!
    if (section.needsRoot && !isRoot) {
      console.log(`### ${name}: skipped (not root: network namespaces need root)`)
      results[name] = { skipped: 'not root' }
      continue
    }
    process.stdout.write(`running ${name}...\n`)
    results[name] = await section.run()
  }
  const dir = fileURLToPath(new URL('../../benchmarks/results/', import.meta.url))
  mkdirSync(dir, { recursive: true })
  writeFileSync(`${dir}latest.json`, JSON.stringify({ machine, results }, null, 2) + '\n')

  console.log(`\n${machine.cpu}, ${machine.cores} cores, node ${machine.node}\n`)
  console.log('| section | figure | unit | median | min | max | vs baseline | target |')
  console.log('|---|---|---|---:|---:|---:|---:|---|')
  for (const [name, figures] of Object.entries(results)) {
    if (!Array.isArray(figures)) continue
    for (const f of figures) {
      const ratio = f.ratio !== undefined ? `${f.ratio.toFixed(2)} × ${f.baseline!.name}` : ''
      const target = f.target !== undefined ? `${f.target} ${f.met ? '✓' : '✗'}` : ''
      console.log(`| ${name} | ${f.name}${f.note ? ` (${f.note})` : ''} | ${f.unit} | ${format(f.median)} | ${format(f.min)} | ${format(f.max)} | ${ratio} | ${target} |`)
    }
  }
  console.log(`\nwritten: benchmarks/results/latest.json`)
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
