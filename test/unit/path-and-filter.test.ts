// The path state machine's table, and the frame filter's layer-2/3 rules on hand-made frames.
import t from 'tap'
import { FrameFilter } from '../../src/edge/frame-filter.js'
import { nextPath, type PathEvent, type PathState } from '../../src/edge/path.js'
import { ipv4ToNumber } from '../../src/supernode/auto-ip.js'
import { macKeyAt } from '../../src/wire/index.js'
import { arpBroadcast, ipv4Frame, ipv6Frame, mac } from '../fixtures/frames.js'

t.test('path: every state and event', (t) => {
  const expected: Record<PathState, Record<PathEvent, PathState>> = {
    relay: { 'peer-info': 'punching', 'probe-ack': 'direct', 'punch-exhausted': 'relay', 'direct-quiet': 'relay', 'direct-silent': 'relay' },
    punching: { 'peer-info': 'punching', 'probe-ack': 'direct', 'punch-exhausted': 'relay', 'direct-quiet': 'punching', 'direct-silent': 'punching' },
    direct: { 'peer-info': 'direct', 'probe-ack': 'direct', 'punch-exhausted': 'direct', 'direct-quiet': 'suspect', 'direct-silent': 'relay' },
    suspect: { 'peer-info': 'punching', 'probe-ack': 'direct', 'punch-exhausted': 'suspect', 'direct-quiet': 'suspect', 'direct-silent': 'relay' },
  }
  for (const [state, events] of Object.entries(expected)) {
    for (const [event, next] of Object.entries(events)) t.equal(nextPath(state as PathState, event as PathEvent), next, `${state} + ${event}`)
  }
  t.end()
})

t.test('filter: own MAC and group MACs only, source MAC must be the sender’s', (t) => {
  const own = mac(1)
  const peer = mac(2)
  const f = new FrameFilter(own)
  f.setIpv4(ipv4ToNumber('10.1.0.1'), 16)
  const sender = macKeyAt(peer, 0)
  const check = (frame: Buffer): string | null => f.check(frame, frame.length, sender)
  t.equal(check(ipv4Frame(own, peer, '10.1.0.2', '10.1.0.1')), null)
  t.equal(check(ipv4Frame(own, peer, '10.1.0.2', '10.1.255.255')), null, '/16 subnet broadcast')
  t.equal(check(ipv4Frame(own, peer, '10.1.0.2', '10.1.0.255')), 'not-our-ip', 'a /24 broadcast is not ours in a /16')
  t.equal(check(ipv4Frame(own, peer, '10.1.0.2', '239.1.2.3')), null, 'multicast')
  t.equal(check(ipv4Frame(mac(3), peer, '10.1.0.2', '10.1.0.1')), 'not-our-mac')
  t.equal(check(ipv4Frame(own, mac(3), '10.1.0.2', '10.1.0.1')), 'foreign-src-mac')
  t.equal(check(arpBroadcast(peer)), null)
  t.equal(check(Buffer.alloc(13)), 'runt')
  const badIhl = ipv4Frame(own, peer, '10.1.0.2', '10.1.0.1')
  badIhl[14] = 0x44
  t.equal(check(badIhl), 'bad-ip-header', 'IHL below 5')
  t.equal(check(ipv4Frame(own, peer, '10.1.0.2', '10.1.0.1').subarray(0, 30)), 'bad-ip-header', 'truncated IPv4 header')
  t.end()
})

t.test('filter: IPv6 link-local and multicast pass, own global passes only once added', (t) => {
  const own = mac(1)
  const peer = mac(2)
  const f = new FrameFilter(own)
  const sender = macKeyAt(peer, 0)
  const global = Buffer.from('fd000000000000000000000000000001', 'hex')
  t.equal(f.check(ipv6Frame(own, peer, global), 80, sender), 'not-our-ip')
  f.addIpv6(global)
  t.equal(f.check(ipv6Frame(own, peer, global), 80, sender), null)
  t.equal(f.check(ipv6Frame(own, peer, Buffer.from('fe800000000000000000000000000002', 'hex')), 80, sender), null)
  t.equal(f.check(ipv6Frame(own, peer, Buffer.from('fd000000000000000000000000000002', 'hex')), 80, sender), 'not-our-ip')
  t.equal(f.check(ipv4Frame(own, peer, '10.1.0.2', '10.1.0.1'), 98, sender), 'not-our-ip', 'no IPv4 address yet: unicast IPv4 refused')
  t.end()
})
