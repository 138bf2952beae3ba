// The supernode as an amplifier: a second process invents a community, registers 1,000 fake edges
// in it and broadcasts through the relay, each frame asking to be fanned out 999 times. The bytes
// the supernode sends on that source's behalf stay within the source's relay budget; what it would
// not send is counted; a fifth edge on one endpoint is refused.
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { BROADCAST_OVERHEAD, ErrorCode, RELAY_PREFIX_BYTES } from '../../src/wire/index.js'
import { AttackProcess } from '../fixtures/attack-process.js'
import type { FanOutReport } from '../fixtures/fan-out-attacker.js'
import { startSupernodeProcess } from '../fixtures/supernode-process.js'

const ATTACKER = fileURLToPath(new URL('../fixtures/fan-out-attacker.ts', import.meta.url))
const EDGES = 1000
const SECONDS = 3
const BROADCASTS_PER_SECOND = 100
const PAYLOAD = 200
/** The source budget under test: 4 MiB/s, bursts of 1/8 s (512 KiB, enough for one broadcast to 999 of 252 B). */
const BUDGET_PER_SECOND = 4 * 1024 * 1024
const BUDGET_BURST = BUDGET_PER_SECOND / 8
/** The supernode may still be working through the attacker's last frames when it reports. */
const SLACK_SECONDS = 0.5

interface Status {
  port: number
  counters: Record<string, number>
  drops: Record<string, number>
}

t.test('1,000 fake edges and a broadcast flood: bytes out stay within the source budget', async (t) => {
  const sn = await startSupernodeProcess(t, ['--relay-budget-source', '4M', '--relay-budget-community', '8M'])
  const status = (): Promise<Status> => sn.status<Status>()
  const port = (await status()).port

  const attacker = AttackProcess.start<never, FanOutReport>(t, ATTACKER, [String(port), String(EDGES), String(SECONDS), String(BROADCASTS_PER_SECOND), String(PAYLOAD)])
  const report = await attacker.next('report')
  const after = await status()
  const bytesIn = after.counters.relayBytesIn!
  const bytesOut = after.counters.relayedBytes!
  const limit = BUDGET_BURST + BUDGET_PER_SECOND * (report.seconds + SLACK_SECONDS)
  const frame = RELAY_PREFIX_BYTES + BROADCAST_OVERHEAD + PAYLOAD
  t.comment(`${report.registered} fake edges from ${report.addresses} addresses; ${report.broadcasts} broadcasts of ${frame} B in ${report.seconds.toFixed(1)} s`)
  t.comment(`unbounded, that is ${((report.broadcasts * frame * (EDGES - 1)) / 1e6).toFixed(1)} MB out (×${EDGES - 1})`)
  t.comment(
    `measured: ${bytesIn} B in, ${bytesOut} B out: fan-out ×${(bytesOut / bytesIn).toFixed(1)}, ${(bytesOut / report.seconds / 1e6).toFixed(2)} MB/s; budget ${(limit / 1e6).toFixed(2)} MB for the run`,
  )
  t.comment(`held back: ${after.drops['relay-source-over-budget']} broadcasts (relay-source-over-budget); ${report.framesReceived} frames reached the attacker's sockets`)

  t.equal(report.registered, EDGES, 'the attacker registered its 1,000 edges (four per endpoint, 200 per address)')
  t.equal(report.fifthOnOneSocket, ErrorCode.EndpointFull, 'a fifth edge on one endpoint is refused: endpoint-full')
  t.ok(after.drops['endpoint-full']! >= 1, 'and counted')
  t.ok(bytesIn >= report.bytesSent * 0.9, `the broadcasts reached the relay check: ${bytesIn} of ${report.bytesSent} B`)
  t.ok(bytesOut > 0, 'broadcasts within the budget were fanned out')
  t.ok(bytesOut <= limit, `bytes out within the source budget: ${bytesOut} ≤ ${Math.round(limit)}`)
  t.ok(after.drops['relay-source-over-budget']! > 0, 'broadcasts beyond it were dropped whole and counted')
  t.ok(bytesOut % (frame * (EDGES - 1)) === 0, 'a broadcast goes to all 999 or to none')
  t.equal(await attacker.exited(), 0, 'the attacker ended cleanly')
})
