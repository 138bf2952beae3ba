// npm's install step: builds the C addons (TAP device, batched UDP) with node-gyp. They are
// optional: where they cannot be built (no compiler, macOS, Windows) the install still succeeds and
// overlan runs with node:dgram sockets, and as a `--userspace` edge (no TAP). CI sets
// OVERLAN_REQUIRE_ADDONS=1 so that a build failure on Linux fails the run.
import { spawnSync } from 'node:child_process'

const result = spawnSync('node-gyp', ['rebuild', '--directory=src/native'], { stdio: 'inherit', shell: process.platform === 'win32' })
if (result.status !== 0) {
  if (process.env.OVERLAN_REQUIRE_ADDONS === '1') process.exit(result.status ?? 1)
  process.stderr.write('overlan: the C addons did not build; the edge runs without them only as --userspace (no TAP device), with node:dgram sockets\n')
}
