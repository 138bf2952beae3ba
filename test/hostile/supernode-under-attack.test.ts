// The supernode under attack from a second process, for a bounded time, while two members keep
// exchanging frames through it: nothing crashes, members lose under 1 %, memory stays bounded,
// no unverified source gets more bytes back than it sent, and every refusal is counted by reason.
// The attacker fills the supernode to its limits (edges in all, per endpoint): its RSS stays within
// the memory bound the supernode states for those limits.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { AttackProcess } from '../fixtures/attack-process.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { registered, startEdge } from '../fixtures/overlay.js'
import type { SupernodeAttackReport } from '../fixtures/supernode-attacker.js'
import { startSupernodeProcess } from '../fixtures/supernode-process.js'

const ATTACKER = fileURLToPath(new URL('../fixtures/supernode-attacker.ts', import.meta.url))
const ATTACK_SECONDS = 4
const MAX_ATTACK_PACKETS = 400_000
/** Limits the attack can reach in its few seconds; the memory bound is computed from them. */
const LIMITS = ['--max-communities', '1000', '--max-edges-total', '150', '--max-tracked-sources', '5000']
/** Members' frames: one every 10 ms for the whole attack. */
const FRAME_INTERVAL_MS = 10

function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
}

t.test('attacked for a bounded time, the supernode keeps serving its members', async (t) => {
  const sn = await startSupernodeProcess(t, LIMITS)
  const status = (): Promise<{ port: number; drops: Record<string, number>; counters: Record<string, number>; memoryBoundBytes: number }> => sn.status()
  const { port, memoryBoundBytes } = await status()
  t.match(sn.log(), new RegExp(`memory bound ${Math.round(memoryBoundBytes / 2 ** 20)} MiB`), 'the bound is logged at start, as /status gives it')

  const a = await startEdge(t, [port], { relayOnly: true })
  const b = await startEdge(t, [port], { relayOnly: true })
  await Promise.all([registered(a), registered(b)])
  a.tap.inject(ipv4Frame(b.tap.mac, a.tap.mac, a.edge.overlay!.address, b.edge.overlay!.address))
  await b.tap.waitForWritten(1)
  const rssBefore = rssOf(sn.child.pid!)

  const attacker = AttackProcess.start<never, SupernodeAttackReport>(t, ATTACKER, [String(port), String(ATTACK_SECONDS), String(MAX_ATTACK_PACKETS), String(b.edge.edgeId)])
  const report = attacker.next('report')

  // the members' traffic during the attack, through the supernode (relay only)
  let sent = 0
  const before = b.tap.written.length
  const until = Date.now() + ATTACK_SECONDS * 1000
  while (Date.now() < until) {
    a.tap.inject(ipv4Frame(b.tap.mac, a.tap.mac, a.edge.overlay!.address, b.edge.overlay!.address, 200))
    sent++
    await delay(FRAME_INTERVAL_MS)
  }
  const attack = await report
  await delay(500)
  const delivered = b.tap.written.length - before
  const rssAfter = rssOf(sn.child.pid!)
  const after = await status()
  const metrics = await (await fetch(`${sn.mgmt}/metrics`)).text()

  const loss = 1 - delivered / sent
  const amplification = attack.unverifiedIn / attack.unverifiedOut
  t.comment(`attack: ${attack.sent} packets, ${(attack.sentBytes / 1e6).toFixed(1)} MB in ${attack.seconds.toFixed(1)} s; ${attack.madeUpCommunities} made-up communities; ${attack.received} answers`)
  t.comment(`members: ${delivered} of ${sent} frames delivered (loss ${(loss * 100).toFixed(2)} %)`)
  t.comment(`supernode RSS ${(rssBefore / 1e6).toFixed(1)} MB before, ${(rssAfter / 1e6).toFixed(1)} MB after; stated bound ${(memoryBoundBytes / 1e6).toFixed(1)} MB; ${after.counters.registrations} registrations`)
  t.comment(`unverified sources: ${attack.unverifiedIn} bytes back for ${attack.unverifiedOut} sent (amplification ${amplification.toFixed(4)})`)
  t.comment(`drops: ${JSON.stringify(Object.fromEntries(Object.entries(after.drops).filter(([, n]) => n > 0)))}`)

  t.equal(sn.child.exitCode, null, 'the supernode is still running (no crash)')
  t.notMatch(sn.log(), /Unhandled|TypeError|RangeError|at .*\.js:\d+/, 'no exception or unhandled rejection in its log')
  t.ok(loss < 0.01, 'members lose under 1 % of their frames')
  t.ok(rssAfter <= memoryBoundBytes, `RSS within the stated bound: ${(rssAfter / 1e6).toFixed(1)} MB ≤ ${(memoryBoundBytes / 1e6).toFixed(1)} MB`)
  t.ok(amplification <= 1, 'no unverified source got more bytes than it sent')
  // Forged member and authority signatures need a cookie and a free place first: once the attack
  // has filled the supernode (supernode-full), how many reach the signature checks depends on how
  // busy the machine is (0 to a few). They are not listed here, so that a busy machine cannot fail
  // this test; overlay/supernode-live-holder-kept.test.ts refuses and counts each, one by one.
  for (const reason of ['truncated', 'oversized', 'bad-version', 'old-protocol', 'unknown-type', 'trailing-bytes', 'bad-cookie', 'bad-certificate-length', 'rate-limited', 'relay-unknown-sender', 'unknown-edge', 'endpoint-full', 'supernode-full']) {
    t.match(metrics, new RegExp(`overlan_supernode_dropped_total\\{reason="${reason}"\\} [1-9]`), `${reason} refusals are counted in /metrics`)
  }
  const totalDrops = Object.values(after.drops).reduce((x, y) => x + y, 0)
  t.ok(totalDrops > attack.sent * 0.5, `refusals counted: ${totalDrops} for ${attack.sent} hostile packets (the rest lost in the kernel's socket queue)`)
})
