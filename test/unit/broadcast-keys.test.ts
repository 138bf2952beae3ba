// A sender's broadcast key: one sealed copy opens at every receiver holding the key, once; a
// rotated key is unknown to a receiver that was not given it (a member that left); the replaced
// key still opens for its valid-for time, then no more.
import t from 'tap'
import {
  BROADCAST_KEY_ROTATE_MS,
  BROADCAST_KEY_VALID_FOR_S,
  BroadcastReceiver,
  BroadcastSender,
  FORGOTTEN_BROADCAST_KEY_MS,
  FORGOTTEN_BROADCAST_KEYS,
  ForgottenBroadcastKeys,
} from '../../src/edge/broadcast-keys.js'
import { BroadcastHeader, decodeBroadcastKeyPayload, readBroadcastHeader } from '../../src/wire/index.js'

const NOW = 1_800_000_000_000

function handOver(sender: BroadcastSender, receiver: BroadcastReceiver, now: number): void {
  const decoded = decodeBroadcastKeyPayload(Buffer.from(sender.payload))
  if (!decoded.ok) throw new Error(decoded.reason)
  receiver.accept(decoded.value, now)
}

function sealed(sender: BroadcastSender, text: string): Buffer {
  const out = Buffer.alloc(200)
  return out.subarray(0, sender.seal(out, Buffer.from(text)))
}

function open(receiver: BroadcastReceiver, packet: Buffer, now: number): string {
  const header = new BroadcastHeader()
  const bad = readBroadcastHeader(packet, header)
  if (bad !== null) return bad
  const out = Buffer.alloc(200)
  const result = receiver.open(packet, header.keyId, header.counter, now, out)
  return typeof result === 'string' ? result : `frame:${out.toString('utf8', 0, result)}`
}

t.test('one sealed copy opens at each receiver given the key, once each', (t) => {
  const sender = new BroadcastSender(NOW)
  const b = new BroadcastReceiver()
  const c = new BroadcastReceiver()
  const stranger = new BroadcastReceiver()
  handOver(sender, b, NOW)
  handOver(sender, c, NOW)
  const packet = sealed(sender, 'who-has 10.9.0.2')
  t.equal(open(b, packet, NOW), 'frame:who-has 10.9.0.2')
  t.equal(open(c, packet, NOW), 'frame:who-has 10.9.0.2')
  t.equal(open(b, packet, NOW), 'replayed', 'the same copy again')
  t.equal(open(stranger, packet, NOW), 'unknown-broadcast-key', 'a member never given the key')
  const changed = sealed(sender, 'second')
  changed[20]! ^= 1
  t.equal(open(c, changed, NOW), 'auth-failed', 'a changed byte')
  handOver(sender, b, NOW + 1)
  t.equal(open(b, packet, NOW + 1), 'replayed', 'the same key handed again keeps its replay window')
  t.end()
})

t.test('after a rotation, a receiver not given the new key reads nothing more; the old key opens for its valid-for time', (t) => {
  const sender = new BroadcastSender(NOW)
  const stays = new BroadcastReceiver()
  const left = new BroadcastReceiver()
  handOver(sender, stays, NOW)
  handOver(sender, left, NOW)
  const before = sealed(sender, 'before')
  const oldKeyId = sender.keyId
  t.notOk(sender.due(NOW + BROADCAST_KEY_ROTATE_MS - 1))
  t.ok(sender.due(NOW + BROADCAST_KEY_ROTATE_MS), `due after ${BROADCAST_KEY_ROTATE_MS} ms`)
  sender.rotate(NOW + 10) // a member left
  t.not(sender.keyId, oldKeyId, 'a new key ID')
  handOver(sender, stays, NOW + 10)
  const after = sealed(sender, 'after')
  t.equal(open(stays, after, NOW + 10), 'frame:after')
  t.equal(open(left, after, NOW + 10), 'unknown-broadcast-key', 'the member that left cannot open it')
  t.equal(open(stays, before, NOW + 10 + BROADCAST_KEY_VALID_FOR_S * 1000 - 1), 'frame:before', 'sealed before the rotation, arriving within valid-for')
  const late = sealed(sender, 'x')
  t.equal(open(stays, late, NOW + 20), 'frame:x')
  t.end()
})

t.test('a replaced key stops opening after its valid-for time', (t) => {
  const sender = new BroadcastSender(NOW)
  const r = new BroadcastReceiver()
  handOver(sender, r, NOW)
  const old = sealed(sender, 'old')
  sender.rotate(NOW)
  handOver(sender, r, NOW)
  t.equal(open(r, old, NOW + BROADCAST_KEY_VALID_FOR_S * 1000), 'unknown-broadcast-key')
  t.end()
})

t.test('a sender forgotten and met again within its key\'s life: a broadcast captured before does not open again', (t) => {
  const SENDER = 0x1234_5678_9a
  const sender = new BroadcastSender(NOW)
  const forgotten = new ForgottenBroadcastKeys()
  const before = new BroadcastReceiver(SENDER, forgotten)
  handOver(sender, before, NOW)
  const lost = sealed(sender, 'lost')
  const captured = sealed(sender, 'captured')
  const inFlight = sealed(sender, 'in flight')
  t.equal(open(before, captured, NOW), 'frame:captured')
  before.destroy() // the peer is forgotten (idle, gone, evicted)
  t.equal(forgotten.size, 1, 'its key\'s replay state is kept')

  // met again 100 s later: the sender hands the same key (it has not rotated yet)
  const again = new BroadcastReceiver(SENDER, forgotten)
  handOver(sender, again, NOW + 100_000)
  t.equal(open(again, captured, NOW + 100_000), 'replayed', 'the captured copy is refused')
  t.equal(open(again, lost, NOW + 100_000), 'replayed', 'so is anything up to the highest counter opened then (one never delivered, too)')
  t.equal(open(again, inFlight, NOW + 100_000), 'frame:in flight', 'one sealed after it and never opened is no replay')
  t.equal(open(again, sealed(sender, 'next'), NOW + 100_000), 'frame:next', 'what the sender floods next opens')

  // without the memory (as before): the same copy opened once more
  const amnesiac = new BroadcastReceiver(SENDER)
  handOver(sender, amnesiac, NOW + 100_000)
  t.equal(open(amnesiac, captured, NOW + 100_000), 'frame:captured', 'control: a receiver with no memory opens the captured copy')

  // another sender's key under the same key ID is not touched by this sender's memory
  const other = new BroadcastReceiver(SENDER + 1, forgotten)
  before.destroy()
  again.destroy()
  handOver(sender, other, NOW + 100_000)
  t.equal(open(other, captured, NOW + 100_000), 'frame:captured', 'the memory is per sender')
  t.end()
})

t.test('forgotten keys are kept for the key\'s life and within FORGOTTEN_BROADCAST_KEYS', (t) => {
  const sender = new BroadcastSender(NOW)
  const forgotten = new ForgottenBroadcastKeys()
  const r = new BroadcastReceiver(7, forgotten)
  handOver(sender, r, NOW)
  const captured = sealed(sender, 'captured')
  t.equal(open(r, captured, NOW), 'frame:captured')
  r.destroy()
  t.equal(forgotten.recall(7, sender.keyId, NOW + FORGOTTEN_BROADCAST_KEY_MS), 0, `gone ${FORGOTTEN_BROADCAST_KEY_MS} ms after the key came (the sender has rotated by then)`)
  t.equal(FORGOTTEN_BROADCAST_KEY_MS, BROADCAST_KEY_ROTATE_MS + BROADCAST_KEY_VALID_FOR_S * 1000)

  const nothingOpened = new BroadcastReceiver(8, forgotten)
  handOver(sender, nothingOpened, NOW)
  nothingOpened.destroy()
  t.equal(forgotten.size, 0, 'a key that opened nothing leaves nothing')

  for (let id = 1; id <= FORGOTTEN_BROADCAST_KEYS + 10; id++) forgotten.remember(id, 1, 5, NOW + FORGOTTEN_BROADCAST_KEY_MS)
  t.equal(forgotten.size, FORGOTTEN_BROADCAST_KEYS, 'bounded')
  t.equal(forgotten.recall(1, 1, NOW), 0, 'the oldest forgotten went first')
  t.equal(forgotten.recall(FORGOTTEN_BROADCAST_KEYS + 10, 1, NOW), 5, 'the newest is kept')
  t.equal(forgotten.recall(FORGOTTEN_BROADCAST_KEYS + 9, 1, NOW + FORGOTTEN_BROADCAST_KEY_MS), 0, 'and all of them go once past their life')
  t.equal(forgotten.size, 0)
  t.end()
})
