// Receipt delivery over a lossy path (src/edge/receipt-transfer.ts, on the injected clock): lost
// pieces and a lost "received" are made good by the resend every 250 ms, and the technician hands
// the receipt up once however often pieces come; a technician that never answers is reported
// missing when the time is up. Malformed and unasked-for parts are dropped and counted, and one
// peer cannot hand over more than MAX_RECEIPTS_PER_PEER receipts.
import t from 'tap'
import { formatFingerprint } from '../../src/crypto/identity.js'
import type { Peer } from '../../src/edge/peers.js'
import { MAX_RECEIPTS_PER_PEER, RESEND_MS, ReceiptTransfer } from '../../src/edge/receipt-transfer.js'
import { edgeDropCounters } from '../../src/edge/reasons.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { decodeReceiptPart, encodeReceiptPieces, encodeReceiptReceived, RECEIPT_PIECE_BYTES } from '../../src/wire/receipt-part.js'

/** What the transfer reads of a peer: its edge ID and certificate (fingerprint, key, name). */
function fakePeer(edgeId: number, name: string): Peer {
  return { edgeId, identity: { fingerprint: Buffer.alloc(20, edgeId), certificate: { memberKey: Buffer.alloc(32, edgeId), name } } } as unknown as Peer
}

/** A device and a technician wired back to back; `lose(n, payload)` decides which datagrams vanish. */
function pair(clock: ManualClock, lose: (n: number, from: 'device' | 'technician', payload: Buffer) => boolean) {
  const device = fakePeer(1, 'device')
  const technician = fakePeer(2, 'alice')
  const received: Buffer[] = []
  let n = 0
  const drops = { device: edgeDropCounters(), technician: edgeDropCounters() }
  const deviceSide: ReceiptTransfer = new ReceiptTransfer({
    clock,
    drops: drops.device,
    send: (_peer, payload) => {
      if (!lose(n++, 'device', payload)) techSide.receive(device, Buffer.from(payload))
    },
    received: () => {},
  })
  const techSide: ReceiptTransfer = new ReceiptTransfer({
    clock,
    drops: drops.technician,
    send: (_peer, payload) => {
      if (!lose(n++, 'technician', payload)) deviceSide.receive(technician, Buffer.from(payload))
    },
    received: (text) => received.push(text),
  })
  return { deviceSide, techSide, technician, device, received, drops }
}

const receipt = Buffer.from('x'.repeat(RECEIPT_PIECE_BYTES * 2 + 300))

t.test('lost pieces and a lost "received" are sent again; the receipt is handed up once', async (t) => {
  const clock = new ManualClock()
  let lostPieces = 0
  let lostAcks = 0
  const p = pair(clock, (_n, from, payload) => {
    const part = decodeReceiptPart(payload)
    // the second piece of the first round, and the "received" of the second round (one per piece after the last came)
    if (from === 'device' && part.ok && part.value.index === 1 && lostPieces === 0) return ++lostPieces > 0
    if (from === 'technician' && lostAcks < 2) return ++lostAcks > 0
    return false
  })
  let result: { delivered: string[]; missing: string[] } | null = null
  void p.deviceSide.deliver([p.technician], receipt, 3000).then((r) => (result = r))
  t.equal(p.received.length, 0, 'not whole after the first round: a piece was lost')
  await clock.advance(RESEND_MS, RESEND_MS)
  t.equal(p.received.length, 1, 'whole after one resend')
  t.ok(p.received[0]!.equals(receipt), 'the same bytes')
  t.equal(result, null, 'its "received" was lost: the device still waits')
  await clock.advance(RESEND_MS, RESEND_MS)
  t.same(result, { delivered: [formatFp(2)], missing: [] }, 'confirmed after the next resend')
  t.equal(p.received.length, 1, 'and handed up once only')
  t.equal(p.drops.technician['bad-receipt-part'] + p.drops.device['bad-receipt-part'] + p.drops.device['receipt-refused'], 0, 'nothing refused on the way')
})

t.test('a technician that never answers is missing when the time is up', async (t) => {
  const clock = new ManualClock()
  const p = pair(clock, () => true)
  let result: { delivered: string[]; missing: string[] } | null = null
  void p.deviceSide.deliver([p.technician], receipt, 3000).then((r) => (result = r))
  await clock.advance(2999, RESEND_MS)
  t.equal(result, null, 'still trying before the time is up')
  await clock.advance(1, 1)
  t.same(result, { delivered: [], missing: [formatFp(2)] })
})

t.test('malformed and unasked-for parts are dropped and counted; at most MAX_RECEIPTS_PER_PEER receipts from one peer', (t) => {
  const clock = new ManualClock()
  const p = pair(clock, () => false)
  const pieces = encodeReceiptPieces(7, receipt)
  const bad = (buf: Buffer): void => p.techSide.receive(p.device, buf)
  bad(pieces[0]!.subarray(0, 11))
  const wrongIndex = Buffer.from(pieces[0]!)
  wrongIndex[1] = 3
  bad(wrongIndex)
  bad(Buffer.concat([pieces[2]!, Buffer.from('!')]))
  const wrongCount = Buffer.from(pieces[0]!)
  wrongCount[2] = 2
  bad(wrongCount)
  const reserved = Buffer.from(pieces[0]!)
  reserved[3] = 1
  bad(reserved)
  t.equal(p.drops.technician['bad-receipt-part'], 5, 'cut, index past count, too long, count not fitting the total, reserved not 0')
  t.equal(p.received.length, 0)
  p.deviceSide.receive(p.technician, encodeReceiptReceived(9, 3, receipt.length))
  t.equal(p.drops.device['receipt-refused'], 1, 'a "received" for no delivery of ours')
  for (let i = 0; i < MAX_RECEIPTS_PER_PEER + 2; i++) for (const piece of encodeReceiptPieces(100 + i, receipt)) p.techSide.receive(p.device, piece)
  t.equal(p.received.length, MAX_RECEIPTS_PER_PEER, `${MAX_RECEIPTS_PER_PEER} receipts taken from one peer`)
  t.equal(p.drops.technician['receipt-refused'], 2 * 3, 'the pieces of the rest refused')
  t.end()
})

/** The transfer names peers by their certificate fingerprint, as /status does. */
function formatFp(byte: number): string {
  return formatFingerprint(Buffer.alloc(20, byte))
}
