// A bad underlay: 5 % of frames lost and 50 ms ± 20 ms added, each way, on the link between one
// NAT router and the internet (a userspace netem: test/fixtures/impair.ts). The test first checks
// that the impairment is really there (underlay RTT and the impairment's own counters), then that
// the overlay keeps working across it: ping, a TCP iperf3 run of 3 s, and a TCP transfer whose
// bytes are compared by SHA-256 (the jitter reorders frames, so the receiving TAP's coalescing
// sees gaps, retransmissions and runs cut short). Loss, RTT and rate are printed.
// OVERLAN_SOAK=1 makes the runs longer (npm run soak).
import t from 'tap'
import { impairWan, totals } from '../fixtures/impair.js'
import { natLab, waitFor, type LabEdgeStatus } from '../fixtures/lab.js'
import { median } from '../fixtures/ping-series.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'
import { HASHING_SINK, PATTERN_SOURCE, hashIn } from '../fixtures/tcp-transfer.js'

const SOAK = process.env.OVERLAN_SOAK === '1'
const LOSS = 0.05
const DELAY_MS = 50
const JITTER_MS = 20
/** the same frames lost and the same delays drawn on every run (the traffic's timing aside) */
const SEED = Number(process.env.OVERLAN_IMPAIR_SEED ?? 7)
const PING_INTERVAL_MS = 200
const UNDERLAY_PINGS = 25
const OVERLAY_PINGS = SOAK ? 1500 : 50
const IPERF_SECONDS = SOAK ? 120 : 3
/** a few seconds at the ~1 Mbit/s that TCP gets through 5 % loss and a 100 ms round trip */
const TRANSFER_BYTES = (SOAK ? 256 : 4) * 64 * 1024
const TRANSFER_TIMEOUT_MS = SOAK ? 1_200_000 : 60_000
const TRANSFER_PORT = 5300
/** a ping crosses the impaired link twice: (1 - 0.05)² ≈ 90 % expected back; this leaves room for chance */
const MIN_PING_ANSWERED = 0.75
/** twice the shortest one-way delay drawn (50 - 20 ms) is the least a round trip can take; the mean is 100 ms */
const MIN_UNDERLAY_MEDIAN_RTT_MS = 80

t.test(`5 % loss and ${DELAY_MS} ± ${JITTER_MS} ms on the underlay: ping and iperf3 over the overlay keep working`, async (t) => {
  if (skipUnlessRoot(t, 'the overlay over a lossy, slow underlay')) return
  const lab = await natLab(t)
  const siteA = await lab.addNatSite('cone')
  const siteB = await lab.addNatSite('cone')
  const impairment = await impairWan(lab, siteA, { loss: LOSS, delayMs: DELAY_MS, jitterMs: JITTER_MS, seed: SEED })
  t.teardown(async () => {
    if (impairment.process.running) t.comment(`impairment counters at the end: ${JSON.stringify(await impairment.stop())}`)
  })

  // the impairment is there: NAT A's LAN to NAT B's public address crosses it both ways
  const underlay = await lab.pingSeries(siteA.ns, siteB.publicIp, UNDERLAY_PINGS, PING_INTERVAL_MS)
  const underlayRtt = median(underlay.rttsMs) ?? 0
  t.comment(`underlay ping A's LAN → B's NAT: ${underlay.replies.size}/${underlay.transmitted} answered, RTT median ${underlayRtt} ms (min ${Math.min(...underlay.rttsMs)}, max ${Math.max(...underlay.rttsMs)})`)
  t.ok(underlayRtt >= MIN_UNDERLAY_MEDIAN_RTT_MS, `the underlay's round trip is slow: median ${underlayRtt} ms ≥ ${MIN_UNDERLAY_MEDIAN_RTT_MS} ms`)

  await lab.startSupernode()
  const a = lab.startEdge(siteA, { address: '10.9.0.1/24' })
  const b = lab.startEdge(siteB, { address: '10.9.0.2/24' })
  const first = await lab.firstReply(siteA.ns, b.ip, 20_000)
  t.ok(first.ok, `A pings B over the overlay (${first.ms} ms after starting to ping)`)
  const direct = await waitFor('direct', async () => ((await a.pathTo(b.ip)) === 'direct' ? true : undefined), 15_000)
  t.comment(`path A → B: ${await a.pathTo(b.ip)}${direct.ok ? ` (${direct.ms} ms after the first ping)` : ''}`)

  const overlay = await lab.pingSeries(siteA.ns, b.ip, OVERLAY_PINGS, PING_INTERVAL_MS)
  const answered = overlay.replies.size / Math.max(1, overlay.transmitted)
  const rtt = median(overlay.rttsMs) ?? 0
  t.comment(`overlay ping A → B: ${overlay.replies.size}/${overlay.transmitted} answered (${((1 - answered) * 100).toFixed(1)} % lost), RTT median ${rtt} ms, min ${Math.min(...overlay.rttsMs)}, max ${Math.max(...overlay.rttsMs)}`)
  t.ok(answered >= MIN_PING_ANSWERED, `pings keep passing: ${(answered * 100).toFixed(1)} % answered ≥ ${MIN_PING_ANSWERED * 100} %`)
  t.ok(rtt >= MIN_UNDERLAY_MEDIAN_RTT_MS, `and they crossed the impaired link (median RTT ${rtt} ms)`)

  const iperf = await lab.iperf3(siteA.ns, siteB.ns, b.ip, IPERF_SECONDS)
  t.ok(iperf.ok, `iperf3 -c -t ${IPERF_SECONDS} completes${iperf.error ? `: ${iperf.error}` : ''}`)
  t.comment(`iperf3 A → B over the impaired underlay, ${IPERF_SECONDS} s: ${iperf.mbits.toFixed(2)} Mbit/s, ${iperf.megabytes.toFixed(2)} MB, retransmits ${iperf.retransmits ?? '-'}`)
  t.ok(iperf.mbits > 0, 'data arrived')

  const sink = lab.spawn('tcp sink', siteB.ns, process.execPath, ['-e', HASHING_SINK, b.ip, String(TRANSFER_PORT)])
  t.ok(await sink.waitForLine(/listening/, 10_000), 'hashing sink listening on the overlay address')
  const started = Date.now()
  const sent = await lab.exec(siteA.ns, process.execPath, ['-e', PATTERN_SOURCE, b.ip, String(TRANSFER_PORT), String(TRANSFER_BYTES)], TRANSFER_TIMEOUT_MS)
  const arrived = await sink.waitForLine(/received \d+ [0-9a-f]{64}/, TRANSFER_TIMEOUT_MS)
  const tapB = ((await b.status()) as LabEdgeStatus & { tapStats?: { mergedRuns: number; badChecksums: number } }).tapStats
  t.comment(`${sent.stdout.trim() || sent.stderr.trim()}; ${arrived ?? 'nothing received'}; ${((Date.now() - started) / 1000).toFixed(1)} s; B's TAP: ${tapB?.mergedRuns ?? '-'} merged runs, ${tapB?.badChecksums ?? '-'} bad checksums`)
  t.equal(hashIn(arrived, 'received'), hashIn(sent.stdout, 'sent'), `${TRANSFER_BYTES} bytes sent over the lossy, reordering underlay arrived byte for byte (same SHA-256)`)

  const counters = await impairment.counters()
  const sum = totals(counters)
  const lostShare = sum.lost / Math.max(1, sum.frames)
  t.comment(`impairment (seed ${SEED}): ${JSON.stringify(counters)}; ${sum.frames} frames, ${sum.lost} lost (${(lostShare * 100).toFixed(2)} %), ${sum.overflow} over the queue limit, delay mean ${sum.delayMsMean} ms, max ${sum.delayMsMax} ms`)
  t.ok(sum.frames >= 1000 && lostShare > LOSS / 2 && lostShare < LOSS * 2, `the impairment lost ~${LOSS * 100} % of the ${sum.frames} frames it saw (${(lostShare * 100).toFixed(2)} %)`)
  t.ok(sum.delayMsMean >= DELAY_MS - JITTER_MS && sum.delayMsMean <= DELAY_MS + JITTER_MS + 20, `and delayed them by ${sum.delayMsMean} ms on average`)
})
