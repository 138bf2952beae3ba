// The per-connection send queue of the WebSocket listener: bounded in bytes, control packets before
// data, data dropped oldest first (and when it waited too long), every drop counted by reason.
import t from 'tap'
import { SendQueue, type QueueDrop } from '../../src/net/ws-send-queue.js'

function queue(queueBytes: number, dataMaxAgeMs = 1000): { q: SendQueue; drops: QueueDrop[] } {
  const drops: QueueDrop[] = []
  return { q: new SendQueue({ queueBytes, dataMaxAgeMs }, (reason) => drops.push(reason)), drops }
}

const packet = (id: number, size = 100): Buffer => Buffer.alloc(size, id)

t.test('data past the byte bound drops the oldest data first', (t) => {
  const { q, drops } = queue(300)
  for (let id = 1; id <= 5; id++) q.push(packet(id), true, 0)
  t.equal(q.queuedBytes, 300, 'never more than the bound')
  t.same(drops, ['queue-drop-data', 'queue-drop-data'])
  t.same([q.shift(0)?.[0], q.shift(0)?.[0], q.shift(0)?.[0], q.shift(0)], [3, 4, 5, null], 'the newest three remain, in order')
  t.end()
})

t.test('control goes first, pushes data out to make room, and is dropped only when control fills the queue', (t) => {
  const { q, drops } = queue(300)
  q.push(packet(1), true, 0)
  q.push(packet(2), true, 0)
  q.push(packet(3), true, 0)
  q.push(packet(10), false, 0)
  t.same(drops, ['queue-drop-data'], 'the oldest data made room for the control packet')
  t.equal(q.shift(0)?.[0], 10, 'control first')
  t.equal(q.shift(0)?.[0], 2)
  q.push(packet(11), false, 0)
  q.push(packet(12), false, 0)
  q.push(packet(13), false, 0)
  t.same(drops, ['queue-drop-data', 'queue-drop-data'], 'the last data went to make room for control')
  q.push(packet(14), false, 0)
  t.same(drops.at(-1), 'queue-drop-control', 'a control packet that does not fit among control packets is dropped')
  t.same([q.shift(0)?.[0], q.shift(0)?.[0], q.shift(0)?.[0], q.shift(0)], [11, 12, 13, null])
  t.end()
})

t.test('data that waited past its age is dropped on the way out; the queue holds copies', (t) => {
  const { q, drops } = queue(1000, 500)
  const original = packet(1)
  q.push(original, true, 0)
  original.fill(9)
  q.push(packet(2), true, 400)
  t.equal(q.shift(501)?.[0], 2, 'the one from t=0 is stale at t=501, the one from t=400 is not')
  t.same(drops, ['stale-data'])
  q.push(packet(3), true, 0)
  t.equal(q.shift(0)?.[0], 3, 'a copy: the caller may reuse its buffer')
  t.end()
})
