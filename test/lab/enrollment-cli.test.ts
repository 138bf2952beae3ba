// Consent with the real CLI in the namespace lab: a device process (test/fixtures/enroll-device.ts:
// its edge on a real TAP with a scripted decider) and technicians running `overlan edge
// --join-file`. Alice waits, is admitted, gets her address from the certificate and pings the
// device; Bob is denied and exits 3 without ever making a TAP; the owner disconnects Alice and her
// edge exits 8 with "disconnected by the device's owner", its TAP removed.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { childScript } from '../fixtures/child-script.js'
import { SUPERNODE_IP, SUPERNODE_PORT, natLab, waitFor } from '../fixtures/lab.js'
import { labFiles } from '../fixtures/lab-members.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const BIN = fileURLToPath(new URL('../../bin/overlan.js', import.meta.url))
const DEVICE = childScript(fileURLToPath(new URL('../fixtures/enroll-device.ts', import.meta.url)))
const EXIT_DENIED = 3
const EXIT_SESSION_OVER = 8

t.test('ask, wait, admitted (ping), denied (exit 3), disconnected (exit 8, TAP gone)', async (t) => {
  if (skipUnlessRoot(t, 'technicians enrolling with the real CLI on TAP devices')) return
  const lab = await natLab(t)
  const [deviceSite, aliceSite, bobSite] = [await lab.addPublicHost(), await lab.addNatSite('cone'), await lab.addNatSite('symmetric')]
  await lab.startSupernode()
  const tokenFile = join(await labFiles(t), 'token.txt')
  // under tap's TypeScript loader from source: transpiled only, as tap itself runs the tests
  const env = { PATH: process.env.PATH, ...(DEVICE.loader.length > 0 ? { TS_NODE_TRANSPILE_ONLY: '1' } : {}) }
  const device = lab.spawn('device', deviceSite.ns, process.execPath, [...DEVICE.loader, DEVICE.path, SUPERNODE_IP, String(SUPERNODE_PORT), tokenFile], env)
  if (!t.ok(await device.waitForLine(/device: token written/, 30_000), 'the device is up and wrote its token')) {
    t.comment(device.lines.join('\n'))
    return
  }
  const technician = (site: typeof aliceSite, name: string) =>
    lab.spawn(name, site.ns, process.execPath, [BIN, 'edge', '--join-file', tokenFile, '--name', name, '-d', 'ovl0', '--mgmt', '127.0.0.1:5644'])

  const alice = technician(aliceSite, 'alice')
  t.ok(await alice.waitForLine(/waiting for the device's owner to admit you/, 20_000), 'alice waits for the owner')
  const admittedLine = await alice.waitForLine(/admitted: this host is 10\.9\.0\.11\/24 on ovl0; the device "lab device" is 10\.9\.0\.2 \(device\.overlan\)/, 20_000)
  t.ok(admittedLine, `alice is admitted with the address of her certificate: ${admittedLine ?? alice.lines.slice(-5).join(' | ')}`)
  const reply = await lab.firstReply(aliceSite.ns, '10.9.0.2', 20_000)
  t.ok(reply.ok, 'alice pings the device')

  const bob = technician(bobSite, 'bob deny')
  const bobExit = await bob.waitExit(30_000)
  t.equal(bobExit?.code, EXIT_DENIED, `bob is denied: exit ${EXIT_DENIED}`)
  t.ok(bob.lines.some((l) => l.includes("the device's owner denied the request")), 'with one line')
  t.not((await lab.exec(bobSite.ns, 'ip', ['link', 'show', 'ovl0'])).code, 0, 'bob never made a TAP device')

  device.child.kill('SIGUSR1')
  const aliceExit = await alice.waitExit(15_000)
  t.equal(aliceExit?.code, EXIT_SESSION_OVER, `alice's edge exits ${EXIT_SESSION_OVER} when disconnected`)
  t.ok(alice.lines.some((l) => l.includes("disconnected by the device's owner")), "with the line: disconnected by the device's owner")
  const gone = await waitFor('alice TAP removed', async () => ((await lab.exec(aliceSite.ns, 'ip', ['link', 'show', 'ovl0'])).code !== 0 ? true : undefined), 5_000, 100)
  t.ok(gone.ok, "alice's TAP device is removed")
})
