// The technician's copy: when the owner switches a session off, the device's edge hands the signed
// receipt to the connected technician's edge (SESSION_DATA kind 5) before it stops; the technician
// saves it as `overlan edge --receipt-dir` does, byte for byte the device's own, and it verifies
// with the device key the technician's edge knew the device by. The end's audit record says who confirmed.
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { RECEIPTS_DIR, saveDeliveredReceipt, type SavedReceipt } from '../../src/assist/receipt-store.js'
import { verifyReceipt } from '../../src/assist/receipt.js'
import { poll, startTestAssist } from '../fixtures/assist.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { sessionWithTechnician } from '../fixtures/receipts.js'

t.test('switched off: the connected technician has the receipt, and it verifies', async (t) => {
  const receiptDir = await mkdtemp(join(tmpdir(), 'overlan-tech-receipts-'))
  t.teardown(() => rm(receiptDir, { recursive: true, force: true }))
  const a = await startTestAssist(t)
  const { token, tap, tech } = await sessionWithTechnician(t, a)
  const saved: Promise<SavedReceipt>[] = []
  const senders: Buffer[] = []
  tech.on('receipt', (text, from) => {
    senders.push(from.publicKey)
    saved.push(saveDeliveredReceipt(receiptDir, text, from.publicKey))
  })
  const device = a.taps[0]!
  tap.inject(ipv4Frame(device.mac, tap.mac, tech.overlay!.address, '10.99.0.1'))
  await device.waitForWritten(1)
  await poll(async () => (await a.api('GET', '/api/assistance')).json.technicians as unknown[], (l) => l.length === 1)
  t.equal(tech.status().peers.length, 1, 'the technician knows the device as a peer')

  await a.api('POST', '/api/assistance', { enabled: false })
  t.equal(saved.length, 1, 'one receipt arrived before the device edge stopped')
  const result = await saved[0]!
  if (!result.ok) throw new Error(`not saved: ${result.reason}`)
  t.same(await readdir(receiptDir), [`overlan-receipt-${token.community}.json`])
  t.equal((await stat(result.path)).mode & 0o777, 0o600, 'saved 0600')
  const copy = await readFile(result.path, 'utf8')
  const own = await readFile(join(a.stateDir, RECEIPTS_DIR, `${token.community}.json`), 'utf8')
  t.equal(copy, own, "byte for byte the device's own receipt")
  const check = verifyReceipt(copy)
  if (!check.ok) throw new Error(check.reason)
  t.ok(check.receipt.deviceKey.equals(senders[0]!), "signed by the key of the peer that handed it over (the device's)")
  t.match(check.receipt.technicians, [{ name: 'alice' }])
  const records = (await a.api('GET', '/api/audit')).json as unknown as { event: string; details: Record<string, unknown> }[]
  t.match(records.find((r) => r.event === 'disable'), { details: { receipt: { technicians: 1, deliveredTo: [check.receipt.technicians[0]!.fingerprint], notConfirmedBy: [] } } }, "the session's end record says who confirmed")

  // a receipt not signed by the peer that hands it over is not saved
  const other = Buffer.alloc(32, 5)
  t.match(await saveDeliveredReceipt(receiptDir, Buffer.from(copy), other), { ok: false, reason: /another key than the sending peer's/ })
  t.match(await saveDeliveredReceipt(receiptDir, Buffer.from(copy.replace('"alice"', '"mallory"')), senders[0]!), { ok: false, reason: /signature bad/ })
})
