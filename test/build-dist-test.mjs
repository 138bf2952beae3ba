// Compiles src/ and test/ once into dist-test/ for `npm test`, which then runs plain JavaScript:
// under tap's TypeScript loader each of the ~90 test processes spent about 2 s of CPU loading
// ts-node and transpiling src/ again. tsc here only emits (noCheck): `npm run lint` checks types.
// Inside dist-test/ the repository is mirrored by symbolic links (bin, web, deploy, dist, the
// native addons, test/'s JSON and .ts files…), so a path a test builds from its own file
// (new URL('../../bin/overlan.js', import.meta.url)) points where it does from test/.
// Run from the repository root (npm's pretest does).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'

const OUT = 'dist-test'
/** compiled by tsc (mirrored file by file below), or not wanted in the mirror */
const NOT_LINKED = new Set(['src', 'test', OUT, 'node_modules'])
/** tests write here (screenshots of a failed browser test): the link must point at a folder */
const ARTIFACTS = 'test-artifacts'

// a deleted or renamed test must not live on as a stale compiled copy
rmSync(OUT, { recursive: true, force: true })
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.dist-test.json'], { stdio: 'inherit' })

mkdirSync(ARTIFACTS, { recursive: true })
for (const entry of readdirSync('.')) {
  if (!entry.startsWith('.') && !NOT_LINKED.has(entry)) link(entry)
}
for (const tree of ['src', 'test']) mirror(tree)

/**
 * Links every file and folder of `dir` that tsc did not write into dist-test/ (its .ts sources too).
 * @param {string} dir
 */
function mirror(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (!existsSync(join(OUT, path))) link(path)
    else if (entry.isDirectory()) mirror(path)
  }
}

/** @param {string} path relative to the repository root */
function link(path) {
  const at = join(OUT, path)
  symlinkSync(relative(join(at, '..'), path), at)
}
