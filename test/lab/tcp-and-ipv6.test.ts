// Real traffic over the overlay: an iperf3 TCP run of 3 s completes (its rate is printed, not
// asserted; TCP's own checksums and retransmits vouch for the merged segments the receiving TAP
// hands up as GRO packets; between the edges, the sender's runs of datagrams go as one (UDP GSO)
// and reach the receiver's socket as one (UDP GRO), as their /status says), and IPv6 link-local ping works across the TAP devices (neighbour discovery and
// ICMPv6 through the overlay).
import t from 'tap'
import { natLab, TAP, waitFor, type LabEdgeStatus } from '../fixtures/lab.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'
import { HASHING_SINK, PATTERN_SOURCE, hashIn } from '../fixtures/tcp-transfer.js'

const TRANSFER_PORT = 5300
const TRANSFER_BYTES = 32 * 1024 * 1024

t.test('iperf3 over the overlay, and IPv6 link-local ping', async (t) => {
  if (skipUnlessRoot(t, 'TCP throughput and IPv6 over the overlay')) return
  const lab = await natLab(t)
  const siteA = await lab.addPublicHost()
  const siteB = await lab.addPublicHost()
  await lab.startSupernode()
  const a = lab.startEdge(siteA, { address: '10.9.0.1/24' })
  const b = lab.startEdge(siteB, { address: '10.9.0.2/24' })
  const first = await lab.firstReply(siteA.ns, b.ip, 10_000)
  t.ok(first.ok, `A pings B (${first.ms} ms)`)
  const direct = await waitFor('direct', async () => ((await a.pathTo(b.ip)) === 'direct' ? true : undefined), 10_000)
  t.comment(`path A → B before iperf3: ${await a.pathTo(b.ip)} (${direct.ms} ms after the first ping)`)

  const iperf = await lab.iperf3(siteA.ns, siteB.ns, b.ip, 3)
  t.ok(iperf.ok, `iperf3 -c -t 3 completes${iperf.error ? `: ${iperf.error}` : ''}`)
  t.comment(`iperf3 A → B, 3 s: ${iperf.mbits.toFixed(1)} Mbit/s, ${iperf.megabytes.toFixed(1)} MB, retransmits ${iperf.retransmits ?? '-'}`)
  t.ok(iperf.mbits > 0, 'data arrived')
  // B's TAP merged runs of A's segments into GRO packets (tcp-coalescer.ts) and the kernel took them
  type TapCounters = { frames: number; mergedRuns: number; writeRefused: number; superFrames: number }
  const tapA = ((await a.status()) as LabEdgeStatus & { tapStats?: TapCounters }).tapStats
  const tapB = ((await b.status()) as LabEdgeStatus & { tapStats?: TapCounters }).tapStats
  t.comment(`A's TAP: ${tapA?.superFrames ?? 0} super-frames from the host cut into ${tapA?.frames ?? 0} frames; B's TAP: ${tapB?.mergedRuns ?? 0} merged runs written, ${tapB?.writeRefused ?? 0} frames refused`)
  t.ok((tapA?.superFrames ?? 0) > 0, "the sender's host handed over runs of segments as one (TSO), cut by the edge")
  t.ok((tapB?.mergedRuns ?? 0) > 0, 'received TCP segments went up to the host merged')
  // and between the edges: A sent runs of datagrams as one (UDP GSO), B's socket took them as one (UDP GRO)
  type SocketCounters = { kind: string; gso?: boolean; gro?: boolean; groRuns?: number; truncated?: number }
  const socketA = ((await a.status()) as LabEdgeStatus & { socket?: SocketCounters }).socket
  const socketB = ((await b.status()) as LabEdgeStatus & { socket?: SocketCounters }).socket
  t.comment(`A's data socket ${JSON.stringify(socketA)}; B's ${JSON.stringify(socketB)}`)
  t.equal(socketA?.kind, 'batch', "the edges' data sockets are the batched addon's")
  t.ok(socketA?.gso === true && socketB?.gro === true, 'with UDP GSO and GRO at work')
  t.ok((socketB?.groRuns ?? 0) > 0, "A's runs of datagrams reached B's socket as one (GSO sent, GRO received)")
  t.equal(socketB?.truncated, 0, 'none cut')

  // the bytes themselves: merged segments reach the host with their checksum left to the "device",
  // so TCP would not catch a payload put in the wrong place; a hash of 32 MB does
  const sink = lab.spawn('tcp sink', siteB.ns, process.execPath, ['-e', HASHING_SINK, b.ip, String(TRANSFER_PORT)])
  t.ok(await sink.waitForLine(/listening/, 10_000), 'hashing sink listening on the overlay address')
  const sent = await lab.exec(siteA.ns, process.execPath, ['-e', PATTERN_SOURCE, b.ip, String(TRANSFER_PORT), String(TRANSFER_BYTES)], 30_000)
  const arrived = await sink.waitForLine(/received \d+ [0-9a-f]{64}/, 30_000)
  t.comment(`${sent.stdout.trim()}; ${arrived ?? 'nothing received'}`)
  t.equal(hashIn(arrived, 'received'), hashIn(sent.stdout, 'sent'), 'the 32 MB arrived byte for byte (same SHA-256)')

  const linkLocalB = await lab.linkLocal(siteB.ns, 10_000)
  t.ok(linkLocalB, `B's ${TAP} link-local address: ${linkLocalB}`)
  t.ok(await lab.linkLocal(siteA.ns, 10_000), `A's ${TAP} link-local address is ready`)
  const ping6 = await lab.ping(siteA.ns, `${linkLocalB}%${TAP}`, 3, 6)
  t.comment(`ping -6 ${linkLocalB}%${TAP}: ${ping6.received}/${ping6.transmitted}`)
  t.equal(ping6.received, 3, 'IPv6 link-local ping across the overlay')
})
