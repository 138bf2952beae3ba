// Pair sessions rekey by time (REKEY_AFTER_TIME) while frames flow both ways without a pause: no
// frame is lost to the rekey, none is delivered twice, and the old keys are erased once replaced.
import t from 'tap'
import { REKEY_AFTER_TIME_MS } from '../../src/crypto/noise-session.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { TestNetwork, type Node } from '../fixtures/data-paths.js'

const FRAMES_PER_SECOND = 20

function numbered(from: Node, to: Node, n: number): Buffer {
  const frame = ipv4Frame(to.tap.mac, from.tap.mac, `10.9.0.${from.tap.mac[5]}`, `10.9.0.${to.tap.mac[5]}`, 120)
  frame.writeUInt32BE(n, 100)
  return frame
}

t.test(`rekey under load: ${FRAMES_PER_SECOND} frames a second each way across REKEY_AFTER_TIME; nothing lost`, async (t) => {
  const clock = new ManualClock()
  const net = await TestNetwork.start(t, clock)
  const a = await net.add('a')
  const b = await net.add('b')
  net.introduce(a, b)
  await net.until('ready', () => a.path.peers.get(b.edgeId)?.session.state === 'ready' && b.path.peers.get(a.edgeId)?.session.state === 'ready')
  const aSession = a.path.peers.get(b.edgeId)!.session
  const firstKeys = aSession.current!
  const seconds = Math.ceil(REKEY_AFTER_TIME_MS / 1000) + 15
  let sent = 0
  for (let s = 0; s < seconds; s++) {
    for (let i = 0; i < FRAMES_PER_SECOND; i++, sent++) {
      a.tap.inject(numbered(a, b, sent))
      b.tap.inject(numbered(b, a, sent))
    }
    await net.run(1_000)
  }
  await net.until('every frame delivered', () => b.tap.written.length >= sent && a.tap.written.length >= sent, 5_000)
  await net.run(500)
  const bSeen = b.tap.written.map((f) => f.readUInt32BE(100))
  const aSeen = a.tap.written.map((f) => f.readUInt32BE(100))
  t.equal(new Set(bSeen).size, sent, `b got all ${sent} frames of a`)
  t.equal(bSeen.length, sent, 'none twice')
  t.equal(new Set(aSeen).size, sent, `a got all ${sent} frames of b`)
  const rekeys = aSession.counters.rekeys + b.path.peers.get(a.edgeId)!.session.counters.rekeys
  t.ok(rekeys >= 1, `rekeyed (${rekeys} rekeys seen by the two sides) within ${seconds} s`)
  t.not(aSession.current, firstKeys, 'a seals with new keys')
  t.ok(firstKeys.erased || aSession.previous === firstKeys, 'the first keys are erased, or kept only to receive what is in flight')
  t.equal(a.drops['pending-peer-full'] + a.drops['pending-full'] + b.drops['pending-peer-full'] + b.drops['pending-full'], 0, 'no frame dropped waiting')
  t.comment(`sent ${sent} each way over ${seconds} s of clock; session drops at b: ${JSON.stringify(Object.fromEntries(Object.entries(b.path.sessionDrops).filter(([, n]) => n > 0)))}`)
  t.end()
})
