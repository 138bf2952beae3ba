// `overlan receipt verify FILE`, as a technician runs it on the copy it was given: who, when, why and
// "signature good" with exit 0; one line and exit 3 when a byte of the receipt changed, when it is
// signed by another key than --key names, or when --audit-log no longer agrees with it. A receipt of
// overlan 0.3 (format 1, without admission times) still verifies; format 2's technician fields are
// checked one by one.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { AUDIT_FILE, AuditLog } from '../../src/assist/audit-log.js'
import { RECEIPT_FORMAT_1, signReceipt, verifyReceipt } from '../../src/assist/receipt.js'
import { identityFromSeed, keyFingerprint } from '../../src/crypto/identity.js'
import { overlan } from '../fixtures/overlan-cli.js'

t.test('a receipt verifies, and fails with one line when it, its key or the audit log does not fit', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'overlan-receipt-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const audit = await AuditLog.open(dir)
  const start = Date.UTC(2026, 10, 30, 9, 0, 0)
  await audit.append('enable', { community: 'assist-test' }, start)
  await audit.append('technician-joined', { id: '01', name: 'Alice (ACME support)' }, start + 60_000)
  const seed = Buffer.alloc(32, 7)
  const deviceKey = identityFromSeed(seed).publicKey
  const technician = {
    name: 'Alice (ACME support)',
    fingerprint: keyFingerprint(Buffer.alloc(32, 9)),
    admitted: start + 50_000,
    until: start + 3_600_000,
    left: 'idle' as const,
    firstSeen: start + 60_000,
    lastSeen: start + 3_000_000,
    bytesFromTechnician: 123_456,
    bytesToTechnician: 654_321,
  }
  const { text } = signReceipt({ sessionId: 'assist-test', deviceKey, start, end: start + 3_600_000, endedBy: 'idle', technicians: [technician], moreTechnicians: 0, auditHead: await audit.head() }, seed)
  await audit.append('disable', { community: 'assist-test' }, start + 3_600_000)
  const file = join(dir, 'receipt.json')
  await writeFile(file, text)
  const fingerprint = keyFingerprint(deviceKey)

  const good = await overlan('receipt', 'verify', file)
  t.equal(good.code, 0, 'exit 0')
  t.match(good.stdout, `session assist-test on the device with key ${fingerprint}`)
  t.match(good.stdout, 'from 2026-11-30T09:00:00.000Z to 2026-11-30T10:00:00.000Z, ended: idle')
  t.match(
    good.stdout,
    `technician "Alice (ACME support)" (${technician.fingerprint}): admitted 2026-11-30T09:00:50.000Z until 2026-11-30T10:00:00.000Z (session ended: idle), heard 2026-11-30T09:01:00.000Z to 2026-11-30T09:50:00.000Z, 123456 bytes from it, 654321 bytes to it`,
  )
  t.match(good.stdout, /signature good, by the device key named above/)
  t.match(await overlan('receipt', 'verify', file, '--key', fingerprint.toUpperCase()), { code: 0, stdout: /signature good, by the key you named/ }, '--key: any case')

  const other = keyFingerprint(Buffer.alloc(32, 1))
  const wrongKey = await overlan('receipt', 'verify', file, '--key', other)
  t.equal(wrongKey.code, 3)
  t.equal(wrongKey.stderr.trim().split('\n').length, 1, 'one line')
  t.match(wrongKey.stderr, `signed by the device key ${fingerprint}, not by ${other}`)
  t.match(await overlan('receipt', 'verify', file, '--key', 'nope'), { code: 1, stderr: /--key: "nope" is not a key fingerprint/ })

  // one byte: the technician's byte count
  await writeFile(file, text.replace('123456', '123457'))
  const changed = await overlan('receipt', 'verify', file)
  t.equal(changed.code, 3, 'a changed byte: exit 3')
  t.match(changed.stderr, /signature bad: the receipt was changed after the device signed it/)
  t.equal(changed.stderr.trim().split('\n').length, 1, 'one line')
  await writeFile(file, text.replace('\n  "sessionId"', '\n   "sessionId"'))
  t.match(await overlan('receipt', 'verify', file), { code: 3, stderr: /not in the form the device wrote it/ }, 'an added space')
  await writeFile(file, text.slice(0, 100))
  t.match(await overlan('receipt', 'verify', file), { code: 3, stderr: /not valid JSON/ }, 'cut short')

  await writeFile(file, text)
  const logPath = join(dir, AUDIT_FILE)
  const agrees = await overlan('receipt', 'verify', file, '--audit-log', logPath)
  t.equal(agrees.code, 0)
  t.match(agrees.stdout, `${logPath} agrees with the receipt up to record 2`)
  const log = await readFile(logPath, 'utf8')
  await writeFile(logPath, log.replace('Alice (ACME support)', 'Alice (ACME suppor7)'))
  const disagrees = await overlan('receipt', 'verify', file, '--audit-log', logPath)
  t.equal(disagrees.code, 3, 'one changed byte of the log: exit 3')
  t.match(disagrees.stderr, `${logPath} disagrees with the receipt: record 2 hashes to`)
  t.match(await overlan('receipt', 'verify', join(dir, 'missing.json')), { code: 1, stderr: /cannot read .*missing\.json: ENOENT/ })
})

t.test('format 1 (overlan 0.3) still verifies; format 2 names each bad technician field', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'overlan-receipt-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const seed = Buffer.alloc(32, 7)
  const deviceKey = identityFromSeed(seed).publicKey
  const start = Date.UTC(2026, 10, 30, 9, 0, 0)
  const head = { seq: 2, hash: 'ab'.repeat(32) }
  const seen = { name: 'Bob', fingerprint: keyFingerprint(Buffer.alloc(32, 8)), firstSeen: start + 1_000, lastSeen: start + 2_000, bytesFromTechnician: 10, bytesToTechnician: 20 }
  const old = signReceipt({ format: RECEIPT_FORMAT_1, sessionId: 'assist-old', deviceKey, start, end: start + 60_000, endedBy: 'off', technicians: [seen], moreTechnicians: 0, auditHead: head }, seed).text
  t.match(old, /"receipt": "overlan-session-receipt-1"/)
  t.notMatch(old, /"admitted"/, 'format 1 has no admission times')
  const file = join(dir, 'old.json')
  await writeFile(file, old)
  const verified = await overlan('receipt', 'verify', file)
  t.equal(verified.code, 0, verified.stderr)
  t.match(verified.stdout, `technician "Bob" (${seen.fingerprint}): heard 2026-11-30T09:00:01.000Z to 2026-11-30T09:00:02.000Z, 10 bytes from it, 20 bytes to it`)

  const admitted = { ...seen, admitted: start, until: start + 60_000, left: 'disconnected' as const }
  const body = { sessionId: 'assist-new', deviceKey, start, end: start + 60_000, endedBy: 'off' as const, moreTechnicians: 0, auditHead: head }
  const unheard = signReceipt({ ...body, technicians: [{ ...admitted, firstSeen: null, lastSeen: null, bytesFromTechnician: 0, bytesToTechnician: 0 }] }, seed).text
  t.match(verifyReceipt(unheard), { ok: true, receipt: { technicians: [{ left: 'disconnected', firstSeen: null, lastSeen: null }] } }, 'format 2: a technician never heard has null first and last seen')
  t.throws(() => signReceipt({ ...body, technicians: [{ ...admitted, left: undefined }] }, seed), /technicians\[0\]\.left: one of disconnected, off, expiry, idle/, 'format 2 needs why it left')
  t.throws(() => signReceipt({ ...body, technicians: [{ ...admitted, until: start - 1 }] }, seed), /technicians\[0\]\.until: admitted and until: ISO times, in order/)
  t.throws(() => signReceipt({ ...body, technicians: [{ ...admitted, firstSeen: null }] }, seed), /technicians\[0\]\.lastSeen: firstSeen and lastSeen: ISO times, in order \(or both null\)/)
  t.throws(() => signReceipt({ ...body, format: RECEIPT_FORMAT_1, technicians: [{ ...seen, firstSeen: null, lastSeen: null }] }, seed), /firstSeen and lastSeen: ISO times, in order$/, 'format 1 always had both')
})
