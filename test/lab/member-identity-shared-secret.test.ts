// Shared-secret mode (-k, as n2n): every key holder issues its own certificate, so members are
// equals, but a live holder of a MAC or address is never evicted by another key. With the real CLI
// in the namespace lab: while the device (persisted --identity) answers a technician's pings, a
// newcomer with a fresh key claims the device's MAC (-m), then its address (-a), then both: the
// supernode refuses each (its /status drops and the newcomer's log line name the reason), the
// device stays registered under its own edge ID and keeps answering. Then the device is killed
// (SIGKILL: no goodbye) and started again with the same --identity: the supernode lets it take
// its place at once (same key), long before another key could (holder silent for 25 s); the ping
// gap and the time from the restarted edge being up to the first answer are printed.
import t from 'tap'
import { natLab, waitFor } from '../fixtures/lab.js'
import { labFiles, longestReplyGap, makeIdentity, pingDuring, repliesAround, supernodeStatus } from '../fixtures/lab-members.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

/** A MAC/IP holder that stays silent this long may be replaced by another key (supernode.ts holderSilentMs, keepalive 20 s). */
const HOLDER_SILENT_MS = 25_000
/** The restarted device answers within this of being up: well inside the time another key would have to wait. */
const BACK_AFTER_UP_MS = 10_000
/** The restarted device registers within this of being up (a round trip or two; generous for a busy machine). */
const REGISTERED_AFTER_UP_MS = 5_000
const PING_INTERVAL_MS = 200
/** The technician pings the device this long from just before the kill. */
const PING_AFTER_KILL_SECONDS = 30


t.test('shared secret: a newcomer cannot take a live device’s MAC or address; the device with its identity comes back at once', async (t) => {
  if (skipUnlessRoot(t, 'shared-secret mode: a live holder is never evicted by another key')) return
  const lab = await natLab(t)
  const deviceKey = await makeIdentity(await labFiles(t), 'device')
  const [deviceSite, techSite, newcomerSite] = [await lab.addPublicHost(), await lab.addPublicHost(), await lab.addPublicHost()]
  await lab.startSupernode()
  const device = lab.startEdge(deviceSite, { address: '10.9.0.2/24', name: 'device', identity: deviceKey }, 'device#1')
  const tech = lab.startEdge(techSite, { address: '10.9.0.1/24', name: 'technician' }, 'technician')
  const registered = await device.waitRegistered(30_000)
  t.ok(registered.ok, 'device registered')
  t.ok((await tech.waitRegistered(30_000)).ok, 'technician registered')
  const deviceMac = registered.value!.mac
  const deviceId = registered.value!.edgeId
  t.ok((await lab.firstReply(techSite.ns, device.ip, 20_000)).ok, 'the technician reaches the device, ARP included')

  const claims = [
    { what: "the device's MAC", options: { address: '10.9.0.66/24', mac: deviceMac }, reason: 'mac-in-use' },
    { what: "the device's address", options: { address: '10.9.0.2/24' }, reason: 'address-in-use' },
    { what: 'both', options: { address: '10.9.0.2/24', mac: deviceMac }, reason: 'mac-in-use' },
  ]
  for (const claim of claims) {
    const before = (await supernodeStatus(lab)).drops[claim.reason] ?? 0
    const newcomer = lab.startEdge(newcomerSite, { ...claim.options, name: 'newcomer' }, `newcomer claiming ${claim.what}`)
    const logged = await newcomer.waitForLine(new RegExp(claim.reason), 30_000)
    // the newcomer keeps asking (every 2 s) while the technician pings the device
    const series = await lab.pingSeries(techSite.ns, device.ip, 15, PING_INTERVAL_MS)
    const refused = await waitFor(`supernode counts ${claim.reason} twice`, async () => {
      const n = (await supernodeStatus(lab)).drops[claim.reason] ?? 0
      return n - before >= 2 ? n - before : undefined
    }, 10_000)
    const newcomerStatus = await newcomer.tryStatus()
    await newcomer.stop()
    const status = await supernodeStatus(lab)
    t.comment(`newcomer claiming ${claim.what}: its log "${logged ?? '(nothing)'}"; supernode ${claim.reason} +${refused.value ?? 0}; technician → device ${series.replies.size}/${series.transmitted} answered meanwhile`)
    t.ok(logged, `claiming ${claim.what}: the newcomer's edge logs the refusal (${claim.reason})`)
    t.ok(refused.ok, `claiming ${claim.what}: the supernode refused it each time it asked, counted as ${claim.reason}`)
    t.notOk(newcomerStatus?.supernodes.some((s) => s.registered), 'the newcomer never registered')
    t.same(status.edges.filter((e) => e.mac === deviceMac || e.ip === device.ip).map((e) => e.id), [deviceId], "the device's MAC and address stay the device's, under its edge ID")
    t.equal(series.replies.size, series.transmitted, `the device answered every ping meanwhile (${series.replies.size}/${series.transmitted})`)
  }
  const techPeers = (await tech.status()).peers
  t.same(techPeers.map((p) => p.id), [deviceId], 'the technician knows the device alone: no newcomer was ever introduced')

  // the device dies and comes back with the same identity key
  const pinging = pingDuring(lab, techSite.ns, device.ip, PING_AFTER_KILL_SECONDS, PING_INTERVAL_MS)
  await new Promise((resolve) => setTimeout(resolve, 2 * PING_INTERVAL_MS)) // a reply or two before the kill
  await device.stop('SIGKILL')
  const killedAt = Date.now()
  const again = lab.startEdge(deviceSite, { address: '10.9.0.2/24', name: 'device', identity: deviceKey }, 'device#2')
  const back = await again.waitRegistered(30_000)
  t.ok(back.ok, 'the restarted device registered at once: same key, same holder')
  t.equal(back.value?.edgeId, deviceId, 'under the same edge ID')
  t.equal(back.value?.mac, deviceMac, 'with the same MAC (derived from its key)')
  const series = await pinging
  const up = again.upAt ?? NaN
  const around = repliesAround(series, killedAt)
  const gap = longestReplyGap(series)
  const firstAfterUp = (around.firstAfter ?? NaN) - up
  t.comment(
    `device killed; restarted edge up ${up - killedAt} ms later (node's start), registered ${(again.lineTime(/registered with supernode/) ?? NaN) - killedAt} ms after the kill; ` +
      `ping gap ${gap.ms} ms (last reply before the kill ${(around.lastBefore ?? NaN) - killedAt} ms, first after ${(around.firstAfter ?? NaN) - killedAt} ms); first reply ${firstAfterUp} ms after the new edge was up; ` +
      `${series.replies.size}/${series.transmitted} answered`,
  )
  t.ok(around.firstAfter !== undefined, 'the technician reaches the restarted device')
  t.ok(firstAfterUp <= BACK_AFTER_UP_MS, `first reply within ${BACK_AFTER_UP_MS} ms of the new edge being up (${firstAfterUp} ms)`)
  const registeredAfterUp = (again.lineTime(/registered with supernode/) ?? Infinity) - up
  t.ok(registeredAfterUp <= REGISTERED_AFTER_UP_MS, `registered ${registeredAfterUp} ms after being up (within ${REGISTERED_AFTER_UP_MS} ms), not after the ${HOLDER_SILENT_MS} ms of silence another key would need`)
  t.notOk(again.lines.some((line) => /in-use/.test(line)), 'never refused as mac-in-use or address-in-use')
  const lastReplies = [...series.replies.keys()].filter((seq) => seq > series.transmitted - 5)
  t.equal(lastReplies.length, 5, 'the last 5 pings were all answered: the device stays reachable')
})
