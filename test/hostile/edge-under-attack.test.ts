// The edge under attack from a second process: forgeries from a non-member, replayed and reordered
// datagrams, a member posing as another's MAC or writing to other MACs, and a member flooding it,
// while an honest peer keeps sending and the management API keeps answering. Bounded in count and time.
import { fileURLToPath } from 'node:url'
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { AttackProcess } from '../fixtures/attack-process.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { directEndpointOf, pathOf, peerOf, registered, startEdge, startSupernode, until } from '../fixtures/overlay.js'
import type { EdgeAttackConfig, EdgeAttackReply, EdgeAttackRequest } from '../fixtures/edge-attacker.js'

const ATTACKER = fileURLToPath(new URL('../fixtures/edge-attacker.ts', import.meta.url))
const FORGERIES = 50
/**
 * The member's flood: 1400-byte frames at 20,000 a second (224 Mbit/s, 400 times the honest peer's
 * rate) for 3 s, a burst of up to 64 (a TAP read's worth) whenever it falls behind. Paced: the victim
 * shares this process with the honest peer and the supernode, and a process free to send as fast
 * as it can would measure how the machine shares its CPUs, not the edge; the test stays within seconds.
 */
const FLOOD = { seconds: 3, max: 60_000, perSecond: 20_000, burst: 64 }
/**
 * A flood whatever the machine's load: far more than the victim's socket queue holds (~200 KB, some
 * 140 of these datagrams), so the kernel drops some and the edge runs flat out. How much more the
 * attacker manages depends on how busy the machine is (60,000 on a quiet one, ~17,000 at a load of 14).
 */
const MIN_FLOOD_DATAGRAMS = 5_000
/**
 * Of the flood's datagrams, this many at least must reach the victim's edge: the edge worked through a
 * flood, not a trickle. What the kernel's socket queue drops depends on the machine's load (a share of
 * 42-100 % was seen); what reaches the edge must all reach the host (checked exactly).
 */
const MIN_FLOOD_RECEIVED = MIN_FLOOD_DATAGRAMS / 2
/**
 * The honest peer shares the victim's one UDP socket with the flood: the kernel's queue drops its
 * datagrams as blindly as the flood's, so it can fare no better than the flood; the edge must not make
 * it fare worse (by more than this many percentage points, the noise of 150 frames).
 */
const HONEST_MARGIN = 0.1
const HONEST_FRAMES = 150
/** Marks the honest peer's frames among the flood's in what the victim delivered. */
const HONEST_FILL = 0x68
/** Marks the replayed frames. */
const REPLAY_FILL = 0x72
const STATUS_QUERIES = 10
/**
 * Each /status answer comes within this: an edge whose event loop the flood held for the flood's
 * whole 3 s would miss it, while a busy machine (other test files, two at a time) may add a second
 * or so to a round trip (1,0xx ms was seen at a load of 12 with the old 1 s bound).
 */
const STATUS_ANSWER_MS = 2_500
/** How long the flood's last datagrams may take to come out of the victim's socket queue. */
const DRAIN_MS = 1000
/** The attack process ends by itself after this long, whatever the test does. */
const ATTACKER_MAX_SECONDS = 60

t.test('forgeries, replays, spoofed MACs and a flood from another process: dropped, counted, the edge keeps working', async (t) => {
  const sn = await startSupernode(t)
  const victim = await startEdge(t, [sn], { mgmt: { host: '127.0.0.1', port: 0 }, overlay: { address: '10.9.0.1', prefix: 24 } })
  const honest = await startEdge(t, [sn], { overlay: { address: '10.9.0.2', prefix: 24 } })
  await Promise.all([registered(victim), registered(honest)])
  honest.tap.inject(ipv4Frame(victim.tap.mac, honest.tap.mac, '10.9.0.2', '10.9.0.1'))
  await until('a direct path from the honest peer', () => pathOf(honest, victim) === 'direct')
  const victimAt = directEndpointOf(honest, victim)!

  const config: EdgeAttackConfig = {
    supernodePort: sn.port,
    victim: { address: victimAt.address, port: victimAt.port, edgeId: victim.edge.edgeId, mac: victim.tap.mac.toString('hex'), ip: '10.9.0.1' },
    honest: { edgeId: honest.edge.edgeId, mac: honest.tap.mac.toString('hex'), ip: '10.9.0.2' },
    member: { macByte: 0x33, ip: '10.9.0.3' },
    maxSeconds: ATTACKER_MAX_SECONDS,
  }
  const attacker = AttackProcess.start<EdgeAttackRequest, EdgeAttackReply>(t, ATTACKER, [JSON.stringify(config)])
  const ready = await attacker.next('ready')
  // the victim judges the member's frames by its record: wait until it has it, and a direct path back
  await until('the victim knows the member', () => {
    const member = peerOf(victim, ready.memberId)
    return member?.mac != null && member.path === 'direct'
  })
  const baseline = victim.tap.written.length

  // 1. a non-member: session data under indices no session of the victim has, from an address of its own
  const forged = await attacker.ask({ kind: 'forge', count: FORGERIES })
  await until('forgeries counted', () => victim.edge.status().drops['unknown-index'] >= FORGERIES)

  // 2. the member posing as the honest peer's MAC, and writing to a MAC that is not the victim's
  const spoofed = await attacker.ask({ kind: 'spoof' })
  await until('spoofing counted', () => victim.edge.status().drops['foreign-src-mac'] >= spoofed.foreignSrcMac && victim.edge.status().drops['not-our-mac'] >= spoofed.otherMac)
  t.equal(victim.tap.written.length, baseline, 'none of it reached the host')

  // 3. the member's flood, while the honest peer keeps sending and the management API is asked
  const memberRx = (): number => peerOf(victim, ready.memberId)!.rxPackets
  const floodBefore = { written: victim.tap.written.length, rx: memberRx() }
  let honestSent = 0
  const statusMs: number[] = []
  const honestTraffic = (async () => {
    for (; honestSent < HONEST_FRAMES; honestSent++) {
      honest.tap.inject(ipv4Frame(victim.tap.mac, honest.tap.mac, '10.9.0.2', '10.9.0.1', 120, HONEST_FILL))
      await delay((FLOOD.seconds * 1000) / HONEST_FRAMES)
    }
  })()
  const mgmt = (async () => {
    for (let i = 0; i < STATUS_QUERIES; i++) {
      const start = Date.now()
      const res = await fetch(`http://127.0.0.1:${victim.edge.mgmtAddress!.port}/status`)
      await res.json()
      statusMs.push(Date.now() - start)
      await delay((FLOOD.seconds * 1000) / STATUS_QUERIES)
    }
  })()
  const [flood] = await Promise.all([attacker.ask({ kind: 'flood', ...FLOOD }), honestTraffic, mgmt])
  // the flood's last datagrams may still wait in the victim's socket queue (or have been dropped there)
  const drainedBy = Date.now() + DRAIN_MS
  while (memberRx() - floodBefore.rx < flood.sent && Date.now() < drainedBy) await delay(10)
  const delivered = victim.tap.written.slice(floodBefore.written)
  const honestDelivered = delivered.filter((f) => f[40] === HONEST_FILL).length
  const floodDelivered = delivered.length - honestDelivered
  const floodReceived = memberRx() - floodBefore.rx

  // 4. the member's datagrams replayed and reordered, from an address of the attacker's own
  const replayBefore = victim.tap.written.length
  const replayed = await attacker.ask({ kind: 'replay', fill: REPLAY_FILL })
  const replayDelivered = (): number => victim.tap.written.slice(replayBefore).filter((f) => f[40] === REPLAY_FILL).length
  // each replayed datagram is either refused as a replay or delivered: wait until all are one or the other
  await until('replays judged', () => victim.edge.status().drops.replayed + replayDelivered() >= replayed.sent)
  const exitCode = await attacker.end()

  const drops = Object.fromEntries(Object.entries(victim.edge.status().drops).filter(([, n]) => n > 0))
  t.comment(`attacker sent: ${forged.sent} forgeries, ${replayed.sent} replayed/reordered datagrams (${replayed.repeats} repeats), ${spoofed.foreignSrcMac} foreign-source-MAC and ${spoofed.otherMac} other-MAC frames`)
  t.comment(`flood: ${flood.frames} frames of ${flood.frameBytes} bytes in ${flood.seconds.toFixed(1)} s (${Math.round(flood.frames / flood.seconds)}/s), ${flood.sent} datagrams sent; the victim received ${floodReceived} (${pct(floodReceived, flood.sent)}) and delivered ${floodDelivered} to its host (${pct(floodDelivered, flood.sent)})`)
  t.comment(`honest peer: ${honestDelivered} of ${honestSent} frames delivered (${pct(honestDelivered, honestSent)}); /status answered in ${Math.min(...statusMs)}-${Math.max(...statusMs)} ms`)
  t.comment(`victim drops: ${JSON.stringify(drops)}`)

  t.ok(victim.edge.status().drops['unknown-index'] >= FORGERIES, `the ${FORGERIES} forgeries are refused as unknown-index (no session has their index)`)
  t.equal(victim.edge.status().drops.replayed, replayed.repeats, 'the repeats are refused as replayed')
  t.equal(replayDelivered(), replayed.sent - replayed.repeats, 'the reordered ones reach the host once each')
  t.equal(victim.edge.status().drops['foreign-src-mac'], spoofed.foreignSrcMac, 'the frame with a foreign source MAC is refused as foreign-src-mac')
  t.equal(victim.edge.status().drops['not-our-mac'], spoofed.otherMac, 'the frame to another MAC is refused as not-our-mac')
  t.ok(flood.sent >= MIN_FLOOD_DATAGRAMS, `the member flooded: ${flood.sent} datagrams (${MIN_FLOOD_DATAGRAMS} at least)`)
  t.ok(floodReceived >= MIN_FLOOD_RECEIVED, `the flood reached the victim's edge: ${floodReceived} of ${flood.sent} datagrams (${MIN_FLOOD_RECEIVED} at least)`)
  t.equal(floodDelivered, floodReceived, 'every flood frame the edge received reached the host (the edge itself lost none)')
  // every peer shares the victim's one UDP socket: under a flood the kernel's queue drops honest
  // datagrams as it drops the flood's; "responsive" means the honest peer fares as well as the flood
  t.ok(honestDelivered / honestSent >= floodReceived / flood.sent - HONEST_MARGIN, `the honest peer's frames still arrive (${honestDelivered} of ${honestSent}, ${pct(honestDelivered, honestSent)} against the flood's ${pct(floodReceived, flood.sent)})`)
  t.ok(Math.max(...statusMs) < STATUS_ANSWER_MS, `the management API answers within ${STATUS_ANSWER_MS} ms throughout, less than the flood lasts`)
  t.equal(statusMs.length, STATUS_QUERIES, 'every /status query was answered')
  t.equal(exitCode, 0, 'the attack process ran to its end (bounded, no crash)')
})

function pct(part: number, whole: number): string {
  return `${((part / whole) * 100).toFixed(1)} %`
}
