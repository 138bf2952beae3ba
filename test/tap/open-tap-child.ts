// Run by linux-tap.test.ts in a child process with fewer privileges (no CAP_NET_ADMIN, or no
// /dev/net/tun): tries to open a TAP device named argv[2] and prints what happened as JSON.
import { openLinuxTap, TapError } from '../../src/tap/linux-tap.js'

try {
  const tap = await openLinuxTap({ name: process.argv[2] ?? 'overlan%d' })
  await tap.close()
  console.log(JSON.stringify({ opened: true }))
} catch (error) {
  if (!(error instanceof TapError)) throw error
  console.log(JSON.stringify({ opened: false, kind: error.kind, code: error.code, message: error.message }))
}
