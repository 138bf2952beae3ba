// A service stopped after it made a session's receipt but before it recorded the end: the next
// start finishes the end and keeps that receipt byte for byte (technicians may hold it) instead of
// signing another, and the end record says so.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { RECEIPTS_DIR, receiptFileName } from '../../src/assist/receipt-store.js'
import { verifyReceipt } from '../../src/assist/receipt.js'
import { Supernode } from '../../src/supernode/supernode.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { poll } from '../fixtures/assist.js'
import { stoppableService } from '../fixtures/receipts.js'

t.test('stopped between the receipt and the end record: the restart keeps the receipt', async (t) => {
  const clock = new ManualClock(Date.now())
  const supernode = await Supernode.start({ port: 0, bindAddress: '127.0.0.1', mgmt: null }, { clock })
  t.teardown(() => supernode.stop())
  const dir = await mkdtemp(join(tmpdir(), 'overlan-receipt-restart-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const first = await stoppableService(dir, supernode.port, clock, { stopAt: 'disable:edge-stopped' })
  await first.service.enable({ durationSeconds: 600, adminAccess: false })
  const community = (await first.service.auditRecords()).find((r) => r.event === 'enable')!.details.community as string
  const path = join(dir, RECEIPTS_DIR, receiptFileName(community))
  void first.service.disable()
  // real time: the receipt is signed and written by the thread pool
  const made = await poll(() => readFile(path, 'utf8').catch(() => null), (text) => text !== null)
  await first.abandon()
  if (made === null) throw new Error('no receipt before the stop')
  t.ok(verifyReceipt(made).ok, 'the receipt made before the stop verifies')
  t.notOk((await first.service.auditRecords()).some((r) => r.event === 'disable'), 'the end was not recorded')

  clock.jump(5_000)
  const second = await stoppableService(dir, supernode.port, clock)
  t.teardown(() => second.service.shutdown())
  // the log never recorded the disable: the session resumes; switching it off again ends it
  await second.service.disable()
  t.equal(await readFile(path, 'utf8'), made, 'the same receipt, byte for byte')
  t.match((await second.service.auditRecords()).findLast((r) => r.event === 'disable'), { details: { receipt: { kept: /before the restart/ } } })
})
