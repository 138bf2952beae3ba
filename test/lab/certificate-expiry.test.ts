// A technician's certificate runs out, with the real CLI in the namespace lab (authority mode).
// 1. `ca issue --expires 3s` (the CLI takes 1 s at the least): once it has passed, the edge refuses
//    to start with it: one line, exit 7 (EXIT_CERTIFICATE), no TAP device left.
// 2. A technician registered and pinging the device, whose certificate ends 30 s after it was issued
//    (time enough to start and register on a busy machine): its edge is frozen (SIGSTOP) just before
//    notAfter, so that nothing it does, or fails to do, helps. The supernode and the device drop it
//    on their own clocks within a second of notAfter (their /status, polled, shows it within 2 s,
//    and their counters); let go
//    (SIGCONT), the technician's edge exits 7 with one line saying its certificate ended.
// The supernode's refusal of an expired certificate at REGISTER (an edge lying about its clock) is
// proven in-process: test/overlay/supernode-certificate-expiry.test.ts.
import t from 'tap'
import { natLab, waitFor } from '../fixtures/lab.js'
import { LabAuthority, supernodeStatus } from '../fixtures/lab-members.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

/**
 * The supernode and the edges check certificates' ends every second; /status is polled every 50 ms
 * and its answer (curl in a namespace) takes up to a few hundred ms on a busy machine: gone within
 * this of notAfter, as seen by the poll.
 */
const DROPPED_WITHIN_MS = 2_000
const SHORT_LIFETIME = '3s'
const LIFETIME = '30s'
/** Frozen this long before notAfter (ms). */
const FREEZE_AHEAD_MS = 3_000
const EXIT_CERTIFICATE = 7


t.test('an expired certificate: refused at start; a registered one dropped by the supernode and the device at notAfter', async (t) => {
  if (skipUnlessRoot(t, 'certificate expiry enforced by the supernode and the device')) return
  const lab = await natLab(t)
  const authority = await LabAuthority.create(t)
  const [deviceSite, techSite] = [await lab.addPublicHost(), await lab.addPublicHost()]
  const device = await authority.issue('device', { address: '10.9.0.2/24', role: 'device' })
  const brief = await authority.issue('brief', { address: '10.9.0.21/24', role: 'technician', expires: SHORT_LIFETIME })
  await lab.startSupernode()

  // 1. started after its end
  const wait = brief.notAfter.getTime() - Date.now() + 1_000
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  const late = lab.startEdge(techSite, { address: brief.address, cert: brief.cert, identity: brief.identity }, 'brief (expired)')
  const lateExit = await late.waitExit(30_000)
  const lateLines = late.lines.map((line) => line.replace(/^\+\d+\.\d+s /, ''))
  t.comment(`started ${Date.now() - brief.notAfter.getTime()} ms after notAfter: exit ${JSON.stringify(lateExit)}: ${lateLines.join(' | ')}`)
  t.equal(lateExit?.code, EXIT_CERTIFICATE, `a certificate past notAfter: exit ${EXIT_CERTIFICATE}`)
  t.equal(lateLines.length, 1, 'one line')
  t.match(lateLines[0] ?? '', /expired at .*ask the authority for a new one/, 'saying it expired and what to do')
  t.notOk(await lab.hasTap(techSite.ns), 'no TAP device left behind')

  // 2. registered, then past notAfter while frozen
  const deviceEdge = lab.startEdge(deviceSite, { address: device.address, cert: device.cert, identity: device.identity }, 'device')
  const tech = await authority.issue('tech', { address: '10.9.0.22/24', role: 'technician', expires: LIFETIME })
  const techEdge = lab.startEdge(techSite, { address: tech.address, cert: tech.cert, identity: tech.identity }, 'tech (30 s)')
  t.ok((await deviceEdge.waitRegistered(20_000)).ok, 'device registered')
  const registered = await techEdge.waitRegistered(20_000)
  t.ok(registered.ok, 'technician registered')
  const reply = await lab.firstReply(techSite.ns, device.ip, 15_000)
  t.ok(reply.ok, `the technician reaches the device (${reply.ms} ms)`)
  const techId = registered.value?.edgeId
  t.ok((await deviceEdge.status()).peers.some((p) => p.id === techId), "the device lists the technician as a peer")
  const notAfter = tech.notAfter.getTime()
  const freezeIn = notAfter - FREEZE_AHEAD_MS - Date.now()
  t.ok(freezeIn > 0, `still ${notAfter - Date.now()} ms before notAfter (the test needs ${FREEZE_AHEAD_MS} ms)`)
  if (freezeIn <= 0) return
  await new Promise((resolve) => setTimeout(resolve, freezeIn))
  const expirationsBefore = (await supernodeStatus(lab)).counters.certificateExpirations ?? 0
  const peersExpiredBefore = (await deviceEdge.status()).counters.peersExpired
  techEdge.child.kill('SIGSTOP')
  t.teardown(() => {
    techEdge.child.kill('SIGCONT')
  })

  const [offSupernode, offDevice] = await Promise.all([
    waitFor('the supernode lists the technician no more', async () => ((await supernodeStatus(lab)).edges.some((e) => e.id === techId) ? undefined : Date.now()), FREEZE_AHEAD_MS + 10_000, 50),
    waitFor('the device lists the technician no more', async () => ((await deviceEdge.status()).peers.some((p) => p.id === techId) ? undefined : Date.now()), FREEZE_AHEAD_MS + 10_000, 50),
  ])
  const supernodeMs = (offSupernode.value ?? NaN) - notAfter
  const deviceMs = (offDevice.value ?? NaN) - notAfter
  const snAfter = await supernodeStatus(lab)
  const deviceAfter = await deviceEdge.status()
  t.comment(
    `notAfter ${tech.notAfter.toISOString()}: gone from the supernode's /status ${supernodeMs} ms after it, from the device's ${deviceMs} ms after it; ` +
      `supernode certificateExpirations ${expirationsBefore} → ${snAfter.counters.certificateExpirations}, device peersExpired ${peersExpiredBefore} → ${deviceAfter.counters.peersExpired}`,
  )
  t.ok(offSupernode.ok && supernodeMs >= -50 && supernodeMs <= DROPPED_WITHIN_MS, `the supernode dropped it within ${DROPPED_WITHIN_MS} ms of notAfter, not before (${supernodeMs} ms)`)
  t.ok(offDevice.ok && deviceMs >= -50 && deviceMs <= DROPPED_WITHIN_MS, `the device dropped it within ${DROPPED_WITHIN_MS} ms of notAfter, not before (${deviceMs} ms)`)
  t.equal((snAfter.counters.certificateExpirations ?? 0) - expirationsBefore, 1, 'the supernode counts one certificate expiration')
  t.equal(deviceAfter.counters.peersExpired - peersExpiredBefore, 1, 'the device counts one peer expired')
  const ping = await lab.ping(deviceSite.ns, tech.ip, 3)
  t.equal(ping.received, 0, `the device reaches the technician no more (${ping.received}/${ping.transmitted})`)

  techEdge.child.kill('SIGCONT')
  const exit = await techEdge.waitExit(15_000)
  const line = techEdge.lines.find((l) => /certificate/.test(l) && /(expired|ended)/.test(l))
  t.comment(`technician's edge, let go: exit ${JSON.stringify(exit)}; "${line ?? techEdge.lines.slice(-3).join(' | ')}"`)
  t.equal(exit?.code, EXIT_CERTIFICATE, `the technician's edge exits ${EXIT_CERTIFICATE}`)
  t.ok(line, 'with a line saying its certificate expired')
  t.notOk(await lab.hasTap(techSite.ns), 'its TAP device is gone')
})
