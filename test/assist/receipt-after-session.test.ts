// The end-of-session receipt: a session with a technician who sent traffic ends (switched off), and
// the device has signed a receipt naming it (name, fingerprint, bytes each way) with the audit log's
// head; it verifies, GET /api/receipts lists it, and one changed byte of it anywhere makes it fail.
// The audit log agrees with it until one byte of the log changes, and still disagrees when the log
// is re-chained so that `overlan audit verify` passes again (a device-side rewrite).
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { AUDIT_FILE, AUDIT_HEAD_FILE, hashLine, verifyAuditLog, type AuditRecord } from '../../src/assist/audit-log.js'
import { checkAuditAgainstReceipt } from '../../src/assist/receipt-audit.js'
import { RECEIPTS_DIR } from '../../src/assist/receipt-store.js'
import { verifyReceipt } from '../../src/assist/receipt.js'
import { poll, startTestAssist } from '../fixtures/assist.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { sessionWithTechnician } from '../fixtures/receipts.js'

t.test('a switched-off session leaves a signed receipt that names the technician and fails when changed', async (t) => {
  const a = await startTestAssist(t)
  const { on, token, tap, tech } = await sessionWithTechnician(t, a)
  const device = a.taps[0]!
  const frames = 5
  for (let i = 0; i < frames; i++) tap.inject(ipv4Frame(device.mac, tap.mac, tech.overlay!.address, '10.99.0.1'))
  await device.waitForWritten(frames)
  // the ledger samples once a second: wait until the service has seen the technician
  await poll(async () => (await a.api('GET', '/api/assistance')).json.technicians as unknown[], (l) => l.length === 1)
  await poll(async () => (await a.api('GET', '/api/audit')).json as unknown as { event: string }[], (l) => l.some((r) => r.event === 'technician-joined'))
  const fingerprint = tech.status().certificate.fingerprint
  const frameBytes = ipv4Frame(device.mac, tap.mac, tech.overlay!.address, '10.99.0.1').length

  await a.api('POST', '/api/assistance', { enabled: false })

  const dir = join(a.stateDir, RECEIPTS_DIR)
  t.equal((await stat(dir)).mode & 0o777, 0o700, 'receipts/ is 0700')
  const files = await readdir(dir)
  t.same(files, [`${token.community}.json`], 'one receipt, named for the session')
  const path = join(dir, files[0]!)
  t.equal((await stat(path)).mode & 0o777, 0o600, 'the receipt is 0600')
  const text = await readFile(path, 'utf8')
  const check = verifyReceipt(text)
  if (!check.ok) throw new Error(`the receipt does not verify: ${check.reason}`)
  const r = check.receipt
  t.equal(r.sessionId, token.community)
  t.equal(r.endedBy, 'off')
  t.equal(r.start, Date.parse(on.expiresAt as string) - 600_000, 'start: the switch-on')
  t.ok(r.end >= r.start, 'end after start')
  t.equal(r.technicians.length, 1, 'one technician')
  const alice = r.technicians[0]!
  t.match(alice, { name: 'alice', fingerprint })
  t.ok(alice.bytesFromTechnician >= frames * frameBytes, `bytes from the technician: ${alice.bytesFromTechnician} ≥ ${frames} frames of ${frameBytes}`)
  t.ok(alice.firstSeen !== null && alice.lastSeen !== null && alice.lastSeen >= alice.firstSeen, 'heard: first and last seen, in order')
  t.match(alice, { left: 'off', until: r.end }, 'admitted until the switch-off')
  t.ok(verifyReceipt(text, (JSON.parse(text) as { deviceFingerprint: string }).deviceFingerprint).ok, 'verifies with --key set to its own fingerprint')
  t.match(verifyReceipt(text, 'a'.repeat(32)), { ok: false, reason: /signed by the device key \w+, not by a{32}/ })

  const listed = (await a.api('GET', '/api/receipts')).json as unknown as { file: string; signatureGood: boolean; receipt: { sessionId: string } }[]
  t.match(listed, [{ file: files[0], signatureGood: true, receipt: { sessionId: token.community } }], 'GET /api/receipts lists it')

  // every byte of the file counts: change each one (to a different byte) and it fails
  const bytes = Buffer.from(text)
  let failed = 0
  for (let i = 0; i < bytes.length; i++) {
    const changed = Buffer.from(bytes)
    changed[i] = changed[i] === 0x30 ? 0x31 : 0x30
    if (!verifyReceipt(changed.toString('latin1')).ok) failed++
  }
  t.equal(failed, bytes.length, `each of the ${bytes.length} bytes, changed, makes the receipt fail`)

  // the audit log as written agrees with the receipt
  const logPath = join(a.stateDir, AUDIT_FILE)
  t.same(await checkAuditAgainstReceipt(logPath, r.auditHead), { ok: true }, 'the audit log agrees with the receipt')
  const original = await readFile(logPath, 'utf8')
  const lines = original.trimEnd().split('\n')
  t.ok(r.auditHead.seq >= 2 && r.auditHead.seq <= lines.length, `the head is record ${r.auditHead.seq} of ${lines.length}`)

  // one byte of the log changed (the technician's name in its join record)
  const joinedAt = lines.findIndex((l) => (JSON.parse(l) as AuditRecord).event === 'technician-joined')
  t.ok(joinedAt >= 0 && joinedAt < r.auditHead.seq, 'the join is covered by the receipt')
  const edited = [...lines]
  edited[joinedAt] = edited[joinedAt]!.replace('"alice"', '"alicf"')
  await writeFile(logPath, edited.join('\n') + '\n')
  t.match(await checkAuditAgainstReceipt(logPath, r.auditHead), { ok: false, reason: /record \d+ (does not follow|hashes to \w+, the receipt says)/ }, 'one changed byte: the log disagrees')

  // the same edit, re-chained (every later prev and the head file made anew): audit verify passes, the receipt still disagrees
  const rechained: string[] = []
  let prev = '0'.repeat(64)
  for (const line of edited) {
    const record = JSON.parse(line) as AuditRecord
    const out = JSON.stringify({ ...record, prev })
    rechained.push(out)
    prev = hashLine(out)
  }
  await writeFile(logPath, rechained.join('\n') + '\n')
  await writeFile(join(a.stateDir, AUDIT_HEAD_FILE), JSON.stringify({ seq: rechained.length, hash: prev }) + '\n')
  t.match(await verifyAuditLog(logPath), { ok: true }, 'the rewritten log passes audit verify on the device alone')
  t.match(await checkAuditAgainstReceipt(logPath, r.auditHead), { ok: false, reason: /the log was rewritten after the receipt was signed/ }, 'but disagrees with the receipt a technician holds')
  await writeFile(logPath, original)
})

t.test('a session that expires leaves a receipt "expiry"', async (t) => {
  const { ManualClock } = await import('../../src/time/manual-clock.js')
  const clock = new ManualClock(Date.now())
  const a = await startTestAssist(t, { clock })
  await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 60 })
  await clock.advance(61_000, 1000)
  const listed = await poll(
    async () => (await a.api('GET', '/api/receipts')).json as unknown as { signatureGood: boolean; receipt: { endedBy: string } }[],
    (l) => l.length === 1,
  )
  t.match(listed, [{ signatureGood: true, receipt: { endedBy: 'expiry', technicians: [] } }])
})
