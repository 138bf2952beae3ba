// Frames for a peer whose pair session is not ready wait in its queue, bounded per peer (and for
// all peers together: PENDING_BYTES_TOTAL); a handshake nobody answers is given up after
// REKEY_ATTEMPT_TIME and what waited is dropped and counted, its bytes given back.
import t from 'tap'
import { REKEY_ATTEMPT_TIME_MS } from '../../src/crypto/noise-session.js'
import { PENDING_BYTES_TOTAL, PENDING_FRAME_OVERHEAD_BYTES, PENDING_FRAMES_PER_PEER, PendingFrames } from '../../src/edge/pending-frames.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { TestNetwork } from '../fixtures/data-paths.js'

t.test('a peer that never answers: frames held up to the bound, dropped and counted when the handshake is given up', async (t) => {
  const clock = new ManualClock()
  const net = await TestNetwork.start(t, clock)
  const a = await net.add('a')
  const silent = await net.add('silent')
  await silent.transport.close() // it never answers the handshake
  net.introduce(a, silent)
  await net.until('a knows it', () => a.path.peers.get(silent.edgeId) !== undefined)
  for (let i = 0; i < PENDING_FRAMES_PER_PEER + 10; i++) a.tap.inject(ipv4Frame(silent.tap.mac, a.tap.mac, '10.9.0.1', '10.9.0.2', 200))
  t.equal(a.drops['pending-peer-full'], 10, `${PENDING_FRAMES_PER_PEER} held, the 10 beyond dropped: pending-peer-full`)
  t.equal(a.counters.pendingBytes, PENDING_FRAMES_PER_PEER * (200 + PENDING_FRAME_OVERHEAD_BYTES))
  t.equal(a.path.peers.get(silent.edgeId)!.session.state, 'handshaking')
  await net.run(REKEY_ATTEMPT_TIME_MS + 6_000)
  t.equal(a.drops['handshake-failed'], PENDING_FRAMES_PER_PEER, 'given up: what waited is dropped and counted')
  t.equal(a.counters.pendingBytes, 0, 'its bytes given back')
  t.ok(a.path.peers.get(silent.edgeId)!.session.counters.retries > 0, 'the initiation was retried before it was given up')
  t.end()
})

t.test('all peers together hold at most PENDING_BYTES_TOTAL', (t) => {
  const total = { pendingBytes: 0 }
  const queues = Array.from({ length: 40 }, () => new PendingFrames(total))
  const frame = Buffer.alloc(1000)
  let refusedTotal = 0
  for (const q of queues) for (let i = 0; i < PENDING_FRAMES_PER_PEER; i++) if (q.hold(frame) === 'pending-full') refusedTotal++
  t.ok(total.pendingBytes <= PENDING_BYTES_TOTAL, `${total.pendingBytes} bytes held, bound ${PENDING_BYTES_TOTAL}`)
  t.ok(refusedTotal > 0, `${refusedTotal} refused as pending-full`)
  for (const q of queues) q.take()
  t.equal(total.pendingBytes, 0)
  t.end()
})
