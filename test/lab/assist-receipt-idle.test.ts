// The idle timeout once for real, and the technician's receipt (root): `overlan assist` behind a NAT
// with its device edge on a TAP device and idleMinutes 1; a technician behind a NAT of its own runs
// the real CLI with the join token in a file, is admitted through the API, pings the device, then
// sends nothing. About 60 s after its last ping (its kernel's last ARP answer may come a few seconds
// later) the session ends by itself: audited "idle", the technician's command exits 8 with its one
// line and its TAP device is gone, and it kept the device's signed receipt, which
// `overlan receipt verify` accepts and which names it; the device's audit log agrees with it, and one
// byte changed in the receipt or in the log makes verification fail. About 80 s, most of it the real minute.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { EXIT_SESSION_OVER } from '../../src/cli/errors.js'
import { EXIT_RECEIPT_REFUSED } from '../../src/cli/receipt.js'
import { natLab, waitFor } from '../fixtures/lab.js'
import { DEVICE_IP, assistApi, joinAsTechnician, startAssist } from '../fixtures/lab-assist.js'
import { overlan } from '../fixtures/overlan-cli.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const IDLE_MS = 60_000
/** The idle end comes at the first presence check (each second) a minute after the last frame; ARP may follow a ping by ~5 s. */
const IDLE_END_WITHIN_MS = 75_000

type Listed = { id: string; name: string; state: string; fingerprint: string; certificate: string | null }
type Audit = { time: string; event: string; details: Record<string, unknown> }[]

t.test('idleMinutes 1: the session ends by itself a minute after the last ping; the technician keeps a receipt that verifies', async (t) => {
  if (skipUnlessRoot(t, 'the idle timeout with real TAP devices and the technician CLI across NATs')) return
  const dir = await mkdtemp(join(tmpdir(), 'overlan-lab-idle-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const stateDir = join(dir, 'state')
  const receiptDir = join(dir, 'receipts')
  const lab = await natLab(t)
  const device = await lab.addNatSite('cone')
  const techSite = await lab.addNatSite('cone')
  await lab.startSupernode()

  const service = startAssist(lab, device, stateDir)
  t.ok(await service.waitForLine(/console on http/, 20_000), 'the service is up')
  const api = assistApi(lab, device, stateDir)
  const on = await api('POST', '/api/assistance', { enabled: true, durationSeconds: 600, consent: 'ask', idleMinutes: 1 })
  t.match(on, { enabled: true, token: /^ovl2\./ })

  await mkdir(receiptDir)
  const tina = joinAsTechnician(lab, techSite, on.token as string, 'tina', dir, ['--receipt-dir', receiptDir])
  const request = await waitFor('the request', async () => ((await api('GET', '/api/technicians')) as unknown as Listed[]).find((x) => x.name === 'tina' && x.state === 'waiting'), 20_000)
  if (request.value === undefined) throw new Error(`no request from tina:\n${tina.lines.join('\n')}`)
  const admitted = (await api('POST', `/api/technicians/${request.value.id}`, { admit: true })) as unknown as Listed
  t.match(admitted, { state: 'admitted', certificate: /^[a-z2-7]{32}$/ })
  const first = await lab.firstReply(techSite.ns, DEVICE_IP, 10_000)
  t.ok(first.ok, 'tina reaches the device')
  t.equal((await lab.ping(techSite.ns, DEVICE_IP, 5)).received, 5, 'five pings answered')
  const lastPingAt = Date.now()
  t.equal((await lab.ping(techSite.ns, DEVICE_IP, 1)).received, 1, 'the last ping answered')
  const remaining = (await api('GET', '/api/assistance')).idleRemainingSeconds as number
  t.ok(remaining >= 58 && remaining <= 60, `the idle countdown restarted with the pings: ${remaining} s left`)

  // nothing more from tina: the service's minute runs out on its own
  const exit = await tina.waitExit(IDLE_END_WITHIN_MS + 10_000)
  const endedAfter = Date.now() - lastPingAt
  t.match(exit, { code: EXIT_SESSION_OVER }, `tina's command exits ${EXIT_SESSION_OVER}, ${endedAfter} ms after her last ping`)
  const log = (await api('GET', '/api/audit')) as unknown as Audit
  const idle = log.findLast((r) => ['idle', 'disable', 'expire'].includes(r.event))
  t.match(idle, { event: 'idle', details: { idleMinutes: 1 } }, 'the audit log says "idle"')
  const idleAfter = Date.parse(idle!.time) - lastPingAt
  t.ok(idleAfter >= IDLE_MS, `the session ended ${idleAfter} ms after the last ping: not before a minute`)
  t.ok(idleAfter < IDLE_END_WITHIN_MS, `and within ${IDLE_END_WITHIN_MS} ms`)
  t.comment(`the device last heard a frame from tina ${Date.parse(idle!.details.lastTraffic as string) - lastPingAt} ms after her last ping was sent; the idle end came ${idleAfter} ms after it`)
  t.ok(tina.lines.some((l) => l.includes('the assistance session was switched off')), 'her one line says the session was switched off')
  t.notOk(await lab.hasTap(techSite.ns), 'her TAP device is gone')
  t.equal((await api('GET', '/api/assistance')).enabled, false, 'the service says off')

  const files = await readdir(receiptDir)
  t.equal(files.length, 1, `tina kept one receipt: ${files.join(', ')}`)
  const verified = await overlan('receipt', 'verify', join(receiptDir, files[0]!), '--key', on.deviceFingerprint as string)
  t.equal(verified.code, 0, `overlan receipt verify passes: ${verified.stderr.trim()}`)
  t.match(verified.stdout, 'ended: idle')
  t.match(verified.stdout, new RegExp(`technician "tina" \\(${admitted.certificate}\\): admitted .* \\(session ended: idle\\), heard `), 'it names tina, admitted until the idle end')
  t.match(verified.stdout, 'signature good, by the key you named')

  // the receipt binds the audit log as it was at the end: the device's own log agrees with it; one
  // byte changed in the receipt, or in a copy of the log, and verification fails
  const receiptFile = join(receiptDir, files[0]!)
  const auditLog = join(stateDir, 'audit.log')
  const agrees = await overlan('receipt', 'verify', receiptFile, '--key', on.deviceFingerprint as string, '--audit-log', auditLog)
  t.equal(agrees.code, 0, `the device's audit log agrees with tina's receipt: ${agrees.stderr.trim()}`)
  const flipped = async (source: string, name: string): Promise<string> => {
    const bytes = await readFile(source)
    const at = bytes.indexOf('tina') >= 0 ? bytes.indexOf('tina') : Math.floor(bytes.length / 2)
    bytes[at] = bytes[at]! ^ 0x01
    const copy = join(dir, name)
    await writeFile(copy, bytes)
    return copy
  }
  const badReceipt = await overlan('receipt', 'verify', await flipped(receiptFile, 'receipt-one-byte.json'), '--key', on.deviceFingerprint as string)
  t.equal(badReceipt.code, EXIT_RECEIPT_REFUSED, `one byte changed in the receipt: refused (${badReceipt.stderr.trim()})`)
  const badLog = await overlan('receipt', 'verify', receiptFile, '--key', on.deviceFingerprint as string, '--audit-log', await flipped(auditLog, 'audit-one-byte.log'))
  t.equal(badLog.code, EXIT_RECEIPT_REFUSED, `one byte changed in the audit log: it disagrees with the receipt (${badLog.stderr.trim()})`)
})
