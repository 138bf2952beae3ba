// A sender's broadcast key: one sealed copy opens at every receiver holding the key, once; a
// rotated key is unknown to a receiver that was not given it (a member that left); the replaced
// key still opens for its valid-for time, then no more.
import t from 'tap'
import { BROADCAST_KEY_ROTATE_MS, BROADCAST_KEY_VALID_FOR_S, BroadcastReceiver, BroadcastSender } from '../../src/edge/broadcast-keys.js'
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
