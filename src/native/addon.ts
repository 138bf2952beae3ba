// Finds and loads one of the native addons built by `npm ci` into src/native/build/Release/. The
// compiled JavaScript sits at different depths (dist/ for the package, dist-bench/ for the
// benchmarks, src/ under the tests' TypeScript loader), so the package root is looked up, not assumed.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const BUILD_DIR = join('src', 'native', 'build', 'Release')

function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src', 'native'))) return dir
    const parent = dirname(dir)
    if (parent === dir) return null
    dir = parent
  }
}

/**
 * Set to "off", the addons are taken as not built: how a test shows that a host where they cannot
 * be built (macOS, Windows, no compiler) still runs a userspace edge.
 */
const ADDONS_SWITCH = 'OVERLAN_NATIVE'

/** The addon's path, or null when it was not built (another OS, a checkout without g++) or is switched off. */
export function addonPath(name: 'overlan_tap' | 'overlan_udp'): string | null {
  if (process.env[ADDONS_SWITCH] === 'off') return null
  const root = packageRoot()
  const path = root === null ? null : join(root, BUILD_DIR, `${name}.node`)
  return path !== null && existsSync(path) ? path : null
}

/** Loads a built addon; throws what the loader threw when it is there but does not load. */
export function loadAddon<T>(path: string): T {
  return createRequire(import.meta.url)(path) as T
}
