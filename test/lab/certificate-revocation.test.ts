// The operator revokes a technician while it pings the device, with the real CLI in the namespace
// lab (authority mode). The device's edge runs with `--revocations CA/revocations`, the file that
// `overlan ca revoke` rewrites: within about a second of that write the device's edge reads it and
// hands the revocation to the supernode, which removes the technician (ERROR certificate-revoked to
// it) and passes the revocation on to the community; the device ends the technician's session. The
// times from the file's write to the first lost ping and to each /status showing the technician
// gone are printed. The revoked technician's edge exits 7 with one line; started again with the
// same certificate it is refused at REGISTER (certificate-revoked). The other technician keeps
// reaching the device throughout.
import t from 'tap'
import { natLab, waitFor } from '../fixtures/lab.js'
import { LabAuthority, supernodeStatus } from '../fixtures/lab-members.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

/** The file is looked at every second (revocations-file.ts), then a round trip: gone within this of the write. */
const GONE_WITHIN_MS = 2_000
const PING_INTERVAL_MS = 100
const EXIT_CERTIFICATE = 7


t.test('a technician revoked while it pings: the supernode and the device drop it within a second or two', async (t) => {
  if (skipUnlessRoot(t, 'revocation enforced by the supernode and the device')) return
  const lab = await natLab(t)
  const authority = await LabAuthority.create(t)
  const [device, trent, victor] = await Promise.all([
    authority.issue('device', { address: '10.9.0.2/24', role: 'device' }),
    authority.issue('trent', { address: '10.9.0.11/24', role: 'technician' }),
    authority.issue('victor', { address: '10.9.0.12/24', role: 'technician' }),
  ])
  const [deviceSite, trentSite, victorSite] = [await lab.addPublicHost(), await lab.addPublicHost(), await lab.addPublicHost()]
  await lab.startSupernode()
  const deviceEdge = lab.startEdge(deviceSite, { address: device.address, cert: device.cert, identity: device.identity, revocations: authority.revocationsFile }, 'device')
  const trentEdge = lab.startEdge(trentSite, { address: trent.address, cert: trent.cert, identity: trent.identity }, 'trent')
  const victorEdge = lab.startEdge(victorSite, { address: victor.address, cert: victor.cert, identity: victor.identity }, 'victor')
  for (const edge of [deviceEdge, trentEdge, victorEdge]) t.ok((await edge.waitRegistered(30_000)).ok, `${edge.label} registered`)
  const victorId = (await victorEdge.status()).edgeId
  for (const site of [trentSite, victorSite]) t.ok((await lab.firstReply(site.ns, device.ip, 20_000)).ok, `${site.label} reaches the device`)

  // victor pings the device 10 times a second for 8 s; trent 5 times a second; the revocation comes 2 s in
  const victorPings = lab.pingSeries(victorSite.ns, device.ip, 80, PING_INTERVAL_MS)
  const trentPings = lab.pingSeries(trentSite.ns, device.ip, 40, 200)
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  const revoked = await authority.revoke(victor)
  t.comment(`overlan ca revoke: ${revoked.output.replaceAll('\n', ' | ')}`)
  const [offSupernode, offDevice] = await Promise.all([
    waitFor('the supernode lists victor no more', async () => ((await supernodeStatus(lab)).edges.some((e) => e.id === victorId) ? undefined : Date.now()), 15_000, 50),
    waitFor('the device lists victor no more', async () => ((await deviceEdge.status()).peers.some((p) => p.id === victorId) ? undefined : Date.now()), 15_000, 50),
  ])
  const [victorSeries, trentSeries] = await Promise.all([victorPings, trentPings])
  const answered = [...victorSeries.replies.entries()].sort((a, b) => a[0] - b[0])
  const lastAnswered = answered.at(-1)
  // the first request after the last answered one is the first lost; it was sent an interval after that one
  const firstLostAt = lastAnswered === undefined ? NaN : lastAnswered[1] - (victorSeries.rttsMs.at(-1) ?? 0) + PING_INTERVAL_MS
  const supernodeMs = Math.round((offSupernode.value ?? NaN) - revoked.writtenAt)
  const deviceMs = Math.round((offDevice.value ?? NaN) - revoked.writtenAt)
  const lostMs = Math.round(firstLostAt - revoked.writtenAt)
  const sn = await supernodeStatus(lab)
  const deviceStatus = await deviceEdge.status()
  t.comment(
    `from the revocations file's write: victor's first lost ping sent ${lostMs} ms after, gone from the supernode's /status ${supernodeMs} ms after, from the device's ${deviceMs} ms after; ` +
      `victor ${victorSeries.replies.size}/${victorSeries.transmitted} answered in all, trent ${trentSeries.replies.size}/${trentSeries.transmitted}; ` +
      `supernode revokedEdgesRemoved ${sn.counters.revokedEdgesRemoved}, revocationsForwarded ${sn.counters.revocationsForwarded}, kept ${sn.revocations}; device peersRevoked ${deviceStatus.counters.peersRevoked}`,
  )
  t.ok(offSupernode.ok && supernodeMs <= GONE_WITHIN_MS, `the supernode removed victor within ${GONE_WITHIN_MS} ms of the write (${supernodeMs} ms)`)
  t.ok(offDevice.ok && deviceMs <= GONE_WITHIN_MS, `the device dropped victor within ${GONE_WITHIN_MS} ms of the write (${deviceMs} ms)`)
  t.ok(lastAnswered !== undefined && lastAnswered[0] < victorSeries.transmitted, 'victor\'s pings stopped being answered')
  t.ok(lostMs <= GONE_WITHIN_MS, `victor's first lost ping was sent within ${GONE_WITHIN_MS} ms of the write (${lostMs} ms)`)
  t.ok(lostMs > -PING_INTERVAL_MS, 'and not before it (the pings were answered until the revocation)')
  t.equal(trentSeries.replies.size, trentSeries.transmitted, `trent reached the device throughout (${trentSeries.replies.size}/${trentSeries.transmitted})`)
  t.equal(sn.counters.revokedEdgesRemoved, 1, 'the supernode counts one revoked edge removed')
  t.equal(sn.revocations, 1, 'and keeps the revocation')
  t.equal(deviceStatus.counters.peersRevoked, 1, 'the device counts one peer revoked')

  const exit = await victorEdge.waitExit(15_000)
  const line = victorEdge.lines.find((l) => / error .*revoked/.test(l))
  t.comment(`victor's edge: exit ${JSON.stringify(exit)}; "${line ?? victorEdge.lines.slice(-3).join(' | ')}"`)
  t.equal(exit?.code, EXIT_CERTIFICATE, `victor's edge exits ${EXIT_CERTIFICATE}`)
  t.ok(line, 'with a line saying the authority revoked its certificate')

  const refusedBefore = sn.drops['certificate-revoked'] ?? 0
  const again = lab.startEdge(victorSite, { address: victor.address, cert: victor.cert, identity: victor.identity }, 'victor again')
  const againExit = await again.waitExit(30_000)
  const refusedAfter = (await supernodeStatus(lab)).drops['certificate-revoked'] ?? 0
  t.comment(`victor started again: exit ${JSON.stringify(againExit)}; "${again.lines.find((l) => / error .*revoked/.test(l)) ?? again.lines.slice(-3).join(' | ')}"; supernode certificate-revoked ${refusedBefore} → ${refusedAfter}`)
  t.equal(againExit?.code, EXIT_CERTIFICATE, `started again with the revoked certificate, it exits ${EXIT_CERTIFICATE}`)
  t.ok(refusedAfter > refusedBefore, 'refused at REGISTER by the supernode (certificate-revoked counted)')
  t.notOk((await supernodeStatus(lab)).edges.some((e) => e.id === victorId), 'and never listed')
  t.equal((await lab.ping(trentSite.ns, device.ip, 3)).received, 3, 'trent still reaches the device')
})
