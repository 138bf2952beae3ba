// End to end: a member's host sends frames claiming addresses its certificate does not bind (a
// foreign source MAC, IPv4 source, ARP sender, IPv6 source, Neighbor Advertisement target); the
// receiving edge drops each under its reason and delivers the honest frame.
import t from 'tap'
import { eui64LinkLocal } from '../../src/edge/peer-binding.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { arpBroadcast, ipv4Frame, ipv6Frame, mac } from '../fixtures/frames.js'
import { TestNetwork } from '../fixtures/data-paths.js'

t.test('frames claiming what the sender’s certificate does not bind are dropped by reason', async (t) => {
  const net = await TestNetwork.start(t, new ManualClock())
  const a = await net.add('a') // 02:…:01, 10.9.0.1
  const m = await net.add('m') // 02:…:02, 10.9.0.2
  net.introduce(a, m)
  await net.until('ready', () => a.path.peers.get(m.edgeId)?.session.state === 'ready' && m.path.peers.get(a.edgeId)?.session.state === 'ready')
  await net.run(200)
  const own = a.tap.mac
  const neighborAdvert = (target: Buffer): Buffer => {
    const frame = ipv6Frame(own, m.tap.mac, eui64LinkLocal(own), 78)
    eui64LinkLocal(m.tap.mac).copy(frame, 22)
    frame[20] = 58
    frame[54] = 136
    target.copy(frame, 62)
    return frame
  }
  const attempts: [string, Buffer][] = [
    ['foreign-src-ip', ipv4Frame(own, m.tap.mac, '10.9.0.3', '10.9.0.1')],
    ['foreign-arp-sender', arpBroadcast(m.tap.mac, '10.9.0.3', '10.9.0.1')],
    ['foreign-src-ip', (() => {
      const f = ipv6Frame(own, m.tap.mac, eui64LinkLocal(own))
      eui64LinkLocal(mac(3)).copy(f, 22)
      return f
    })()],
    ['foreign-nd-target', neighborAdvert(eui64LinkLocal(mac(3)))],
  ]
  // a frame with another MAC as its source: the TAP MAC of m is its certificate's, so a host bridge would send it
  const foreignMac = ipv4Frame(own, mac(3), '10.9.0.2', '10.9.0.1')
  const honest = ipv4Frame(own, m.tap.mac, '10.9.0.2', '10.9.0.1')
  // the outbound path sends to the peer whose MAC is the destination: inject as m's host would
  for (const [, frame] of attempts) m.tap.inject(frame)
  m.tap.inject(foreignMac)
  m.tap.inject(honest)
  await net.until('the honest frame arrived', () => a.tap.written.length >= 1)
  await net.run(200)
  t.same(a.tap.written, [honest], 'only the honest frame reached a’s host')
  t.equal(a.drops['foreign-src-ip'], 2, 'IPv4 and IPv6 sources: foreign-src-ip')
  t.equal(a.drops['foreign-arp-sender'], 1)
  t.equal(a.drops['foreign-nd-target'], 1)
  t.equal(a.drops['foreign-src-mac'], 1)
  t.end()
})
