// `overlan status` with no options on a host where only `overlan assist` runs: the real CLI, in a
// namespace of its own with a real TAP device, finds the service's device edge on its management
// port (127.0.0.1:5646, after nothing answered on the edge's 5644) and says which edge it shows.
import { hostname } from 'node:os'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { defaultDeviceName } from '../../src/assist/device-name.js'
import { EXIT_NO_EDGE } from '../../src/cli/errors.js'
import { LoneAssist } from '../fixtures/lab-assist.js'
import { netnsLab } from '../fixtures/netns.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const BIN = fileURLToPath(new URL('../../bin/overlan.js', import.meta.url))

t.test("overlan status finds the assistance service's device edge by itself", async (t) => {
  if (skipUnlessRoot(t, 'overlan assist with a real TAP device in a namespace, read by overlan status')) return
  const netns = netnsLab(t, 'os')
  const a = await LoneAssist.create(t, netns)
  // PATH only: tap's NODE_OPTIONS (loader, coverage) must not follow the CLI
  const status = (...args: string[]) => netns.exec(a.ns, 'env', ['-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, process.execPath, BIN, 'status', ...args], { allowFailure: true })
  await a.startAndWait('assist')

  const off = await status()
  t.equal(off.code, EXIT_NO_EDGE, 'no session: no edge')
  t.equal(off.stderr, 'overlan: no overlan edge is running on 127.0.0.1:5644 (connection refused) or 127.0.0.1:5646 (connection refused); start one with `overlan edge`, or give --mgmt\n')

  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600 })
  t.equal(on.status, 200)
  const text = await status()
  t.comment(text.stdout)
  t.equal(text.code, 0, text.stderr)
  const lines = text.stdout.split('\n')
  // no --device-name: the host's name (cli/assist-device-name.test.ts)
  const name = defaultDeviceName(hostname(), 'device')
  t.equal(lines[0], "the assistance service's device edge (`overlan assist`), management on 127.0.0.1:5646")
  t.equal(lines[1]!.replace(/\([0-9a-f]{14}\)/, '(ID)'), `edge ${name} (ID), 10.99.0.1/24 on ovl0`, 'its TAP device by name')
  // issued by the session's authority (role device), ending with the session (at the second after it)
  const certificateEnd = new Date(Math.ceil(Date.parse(on.json.expiresAt as string) / 1000) * 1000).toISOString()
  t.match(lines[2], new RegExp(`^certificate ${JSON.stringify(name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(device\\) [a-z2-7]{32}, valid until ${certificateEnd.replace(/\./g, '\\.')} \\(in (9|10) min\\)$`), "its certificate: name, role, fingerprint, the session's end")
  t.match(lines[3], new RegExp(`^session ends ${(on.json.expiresAt as string).replace(/\./g, '\\.')} \\(in (9|10) min\\)$`))
  t.match(text.stdout, /^ {2}127\.0\.0\.1:7654 +(registered|not registered) +udp /m, 'the embedded supernode, over UDP')

  const json = await status('--json')
  t.equal(json.code, 0, json.stderr)
  t.match(JSON.parse(json.stdout), { name, ip: '10.99.0.1/24', tap: 'ovl0', tapStats: { frames: Number }, expiresAt: on.json.expiresAt as string })
})
