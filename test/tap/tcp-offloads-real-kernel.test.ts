// The TAP's TCP offloads against the real kernel (root): two TAP devices of this process, each in
// a namespace of its own, wired back to back by the test (what one reads, the other writes), so
// that every frame crosses the addon's cutting of super-frames (TSO, on read) and the receive
// coalescing (on write), as on an edge. TCP flows bigger than one segment go through, and their
// bytes are compared by SHA-256:
// - under an 802.1Q tag (as from a VLAN sub-interface on the overlay device; pushed here by a tc
//   BPF program, as the lab's kernel has no 8021q module: test/fixtures/vlan-tag.ts),
// - over IPv6 with a destination options header on every packet, untagged and tagged,
// - over plain IPv4 with one data segment in 150 damaged on the wire: the coalescer must write it
//   alone (the kernel drops it, TCP sends it again), never merge it into a run the kernel trusts.
// Network safety: all traffic stays inside the two namespaces; both are removed at the end.
import type { ChildProcess } from 'node:child_process'
import t, { type Test } from 'tap'
import { openLinuxTap, type LinuxTap } from '../../src/tap/linux-tap.js'
import { netnsLab, type NetnsLab } from '../fixtures/netns.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'
import { HASHING_SINK, PATTERN_SOURCE, PATTERN_SOURCE_IPV6_DSTOPTS, hashIn } from '../fixtures/tcp-transfer.js'
import { tagEgress, untagIngress } from '../fixtures/vlan-tag.js'

const MTU = 1400
const VLAN_ID = 42
const ETHERTYPE_VLAN = 0x8100
/** each flow: many super-frames' worth, a few seconds through the test's wire */
const FLOW_BYTES = 4 * 1024 * 1024
const FLOW_TIMEOUT_MS = 60_000
const SINK_PORT = 5400
/** every this many TCP data segments from A to B (the damage test only), one payload byte is flipped */
const DAMAGE_EVERY = 150

interface Wired {
  lab: NetnsLab
  nsA: string
  nsB: string
  tapA: LinuxTap
  tapB: LinuxTap
  /** frames A's host sent that the wire read, and how many of them carried an 802.1Q tag */
  fromA: { frames: number; tagged: number }
  /** when set, decides for each frame from A to B whether it goes on damaged (a copy) */
  damage: ((frame: Buffer) => Buffer | null) | null
}

/** Two namespaces whose TAP devices (10.78.0.1, 10.78.0.2, fd78::1, fd78::2) the test wires together. */
async function wiredTaps(t: Test): Promise<Wired> {
  const lab = netnsLab(t)
  const nsA = await lab.addNamespace('a')
  const nsB = await lab.addNamespace('b')
  const tapA = await openLinuxTap({ name: lab.uniqueName('t'), mtu: MTU })
  t.teardown(() => tapA.close())
  const tapB = await openLinuxTap({ name: lab.uniqueName('t'), mtu: MTU })
  t.teardown(() => tapB.close())
  await tapA.moveToNetns(nsA)
  await tapB.moveToNetns(nsB)
  const wired: Wired = { lab, nsA, nsB, tapA, tapB, fromA: { frames: 0, tagged: 0 }, damage: null }
  tapA.onFrame((frame) => {
    wired.fromA.frames++
    if (frame.readUInt16BE(12) === ETHERTYPE_VLAN) wired.fromA.tagged++
    tapB.write(wired.damage?.(frame) ?? frame)
  })
  tapB.onFrame((frame) => tapA.write(frame))
  for (const [ns, tap, host] of [[nsA, tapA, 1], [nsB, tapB, 2]] as const) {
    await tap.addAddress(`10.78.0.${host}/24`)
    await lab.exec(ns, 'ip', ['addr', 'add', `fd78::${host}/64`, 'dev', tap.name, 'nodad'])
  }
  return wired
}

t.test('TSO super-frames under an 802.1Q tag are cut, not dropped: IPv4 and IPv6 with options arrive byte for byte', async (t) => {
  if (skipUnlessRoot(t, 'TSO super-frames under an 802.1Q tag are cut')) return
  const w = await wiredTaps(t)
  await tagEgress(w.lab, w.nsA, w.tapA.name, VLAN_ID)
  await untagIngress(w.lab, w.nsB, w.tapB.name)
  for (const [i, flow] of [
    { what: 'IPv4 under a tag', to: '10.78.0.2', dstopts: false },
    { what: 'IPv6 with a destination options header under a tag', to: 'fd78::2', dstopts: true },
  ].entries()) {
    const superBefore = w.tapA.superFrames
    const tagsBefore = w.fromA.tagged
    const framesBefore = w.fromA.frames
    const result = await transfer(w, flow.to, flow.dstopts, SINK_PORT + i)
    const superFrames = w.tapA.superFrames - superBefore
    t.comment(`${flow.what}: ${result.sent}; ${result.received}; ${superFrames} super-frames cut; ${w.fromA.tagged - tagsBefore} of ${w.fromA.frames - framesBefore} frames from A tagged`)
    t.equal(w.fromA.tagged - tagsBefore, w.fromA.frames - framesBefore, `${flow.what}: every frame A's host sent carried the tag`)
    t.ok(superFrames > 0, `${flow.what}: A's host handed over tagged super-frames (TSO), which the addon cut`)
    t.equal(w.tapA.oversizeDropped, 0, `${flow.what}: none dropped as uncuttable (before: all of them)`)
    t.equal(hashIn(result.received, 'received'), hashIn(result.sent, 'sent'), `${flow.what}: ${FLOW_BYTES} bytes arrived byte for byte (same SHA-256)`)
  }
})

t.test('IPv6 super-frames with a destination options header are cut right, and damaged segments are never merged', async (t) => {
  if (skipUnlessRoot(t, 'IPv6 extension headers in TSO super-frames; damaged segments kept out of merged runs')) return
  const w = await wiredTaps(t)

  const superBefore = w.tapA.superFrames
  const ipv6 = await transfer(w, 'fd78::2', true, SINK_PORT)
  t.comment(`IPv6 with a destination options header: ${ipv6.sent}; ${ipv6.received}; ${w.tapA.superFrames - superBefore} super-frames cut`)
  t.ok(w.tapA.superFrames - superBefore > 0, "A's host handed over super-frames with the extension header (TSO), which the addon cut")
  t.equal(w.tapA.oversizeDropped, 0, 'none dropped as uncuttable')
  t.equal(hashIn(ipv6.received, 'received'), hashIn(ipv6.sent, 'sent'), `${FLOW_BYTES} bytes arrived byte for byte (same SHA-256)`)

  // plain IPv4: segments from A to B merge on B's TAP; one in DAMAGE_EVERY is damaged on the way
  const csumErrors = async (): Promise<number> => {
    const nstat = await w.lab.exec(w.nsB, 'nstat', ['-az', 'TcpInCsumErrors'], { allowFailure: true })
    return Number(/TcpInCsumErrors\s+(\d+)/.exec(nstat.stdout)?.[1] ?? NaN)
  }
  const csumErrorsBefore = await csumErrors()
  const mergedBefore = w.tapB.stats.mergedRuns
  let dataSegments = 0
  let damaged = 0
  w.damage = (frame) => {
    if (!isIpv4TcpData(frame) || ++dataSegments % DAMAGE_EVERY !== 0) return null
    const copy = Buffer.from(frame)
    copy[copy.length - 1]! ^= 0x01
    damaged++
    return copy
  }
  const ipv4 = await transfer(w, '10.78.0.2', false, SINK_PORT + 1)
  w.damage = null
  const kernelDropped = (await csumErrors()) - csumErrorsBefore
  t.comment(`damaged ${damaged} of ${dataSegments} data segments; B's TAP: ${w.tapB.stats.mergedRuns - mergedBefore} runs merged, ${w.tapB.stats.badChecksums} segments with a bad checksum written alone; B's kernel: TcpInCsumErrors +${kernelDropped}`)
  t.ok(damaged > 0, `segments were damaged on the wire (${damaged})`)
  t.ok(w.tapB.stats.mergedRuns - mergedBefore > 0, 'the good ones were merged into runs')
  // (one that happened to come last in its turn went alone anyway, unchecked and uncounted)
  t.ok(w.tapB.stats.badChecksums > 0 && w.tapB.stats.badChecksums <= damaged, `damaged segments that would have joined a run were kept out and counted (${w.tapB.stats.badChecksums})`)
  t.equal(kernelDropped, damaged, "B's kernel saw every damaged segment on its own, checked it and dropped it (TcpInCsumErrors): none went into a merged run, which it trusts")
  t.equal(hashIn(ipv4.received, 'received'), hashIn(ipv4.sent, 'sent'), `${FLOW_BYTES} bytes arrived byte for byte all the same (TCP sent the damaged ones again)`)
})

/** A TCP data segment in untagged IPv4 (what the coalescer merges). */
function isIpv4TcpData(frame: Buffer): boolean {
  if (frame.length < 54 || frame.readUInt16BE(12) !== 0x0800 || frame[23] !== 6) return false
  const l4 = 14 + (frame[14]! & 0x0f) * 4
  return 14 + frame.readUInt16BE(16) > l4 + (frame[l4 + 12]! >> 4) * 4
}

/**
 * FLOW_BYTES from A to B's `to` over TCP (Python with IPV6_DSTOPTS when `dstopts`): both sides'
 * "N HASH" lines. Both are spawned through the lab, which kills them (by PID) if the test ends first.
 */
async function transfer(w: Wired, to: string, dstopts: boolean, port: number): Promise<{ sent: string | null; received: string | null }> {
  const sink = lines(w.lab.spawn(w.nsB, process.execPath, ['-e', HASHING_SINK, to, String(port)]))
  if ((await sink(/listening/)) === null) return { sent: null, received: null }
  const [command, args] = dstopts ? ['python3', ['-c', PATTERN_SOURCE_IPV6_DSTOPTS]] : [process.execPath, ['-e', PATTERN_SOURCE]]
  const source = lines(w.lab.spawn(w.nsA, command, [...args, to, String(port), String(FLOW_BYTES)]))
  return { sent: await source(/sent \d+ [0-9a-f]{64}/), received: await sink(/received \d+ [0-9a-f]{64}/) }
}

/**
 * Collects a child's output; the function returned finds the first line matching, or after the
 * child is gone (its output read to the end) or FLOW_TIMEOUT_MS, what it printed last, or null.
 */
function lines(child: ChildProcess): (pattern: RegExp) => Promise<string | null> {
  const seen: string[] = []
  let closed = false
  for (const stream of [child.stdout, child.stderr]) stream?.setEncoding('utf8').on('data', (chunk: string) => seen.push(...chunk.split('\n')))
  child.once('close', () => (closed = true))
  return (pattern) =>
    new Promise((resolve) => {
      const deadline = Date.now() + FLOW_TIMEOUT_MS
      const look = (): void => {
        const found = seen.find((l) => pattern.test(l))
        if (found === undefined && !closed && Date.now() < deadline) return void setTimeout(look, 20)
        resolve(found ?? (seen.join(' ').trim().slice(-300) || null))
      }
      look()
    })
}
