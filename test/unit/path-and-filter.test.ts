// The path state machine's table, and the frame filter's layer-2/3 rules on hand-made frames.
import t from 'tap'
import { FrameFilter } from '../../src/edge/frame-filter.js'
import { PeerBinding, eui64LinkLocal } from '../../src/edge/peer-binding.js'
import { nextPath, type PathEvent, type PathState } from '../../src/edge/path.js'
import { ipv4ToNumber } from '../../src/supernode/auto-ip.js'
import { arpBroadcast, ipv4Frame, ipv6Frame, mac } from '../fixtures/frames.js'

/** A filter for our MAC (02:…:01), an overlay address in 10.1.0.0/16 (null: none yet), and a check of frames from the peer 02:…:02 (certificate: 10.1.0.2/16). */
function filterFor(ipv4: string | null): { f: FrameFilter; own: Buffer; peer: Buffer; check: (frame: Buffer) => string | null } {
  const own = mac(1)
  const peer = mac(2)
  const f = new FrameFilter(own)
  if (ipv4 !== null) f.setIpv4(ipv4ToNumber(ipv4), 16)
  const sender = new PeerBinding({ mac: peer, ipv4: { address: '10.1.0.2', prefix: 16 }, ipv6: null })
  return { f, own, peer, check: (frame) => f.check(frame, frame.length, sender) }
}

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
  const { own, peer, check } = filterFor('10.1.0.1')
  t.equal(check(ipv4Frame(own, peer, '10.1.0.2', '10.1.0.1')), null)
  t.equal(check(ipv4Frame(own, peer, '10.1.0.2', '10.1.255.255')), null, '/16 subnet broadcast')
  t.equal(check(ipv4Frame(own, peer, '10.1.0.2', '10.1.0.255')), 'not-our-ip', 'a /24 broadcast is not ours in a /16')
  t.equal(check(ipv4Frame(own, peer, '10.1.0.2', '239.1.2.3')), null, 'multicast')
  t.equal(check(ipv4Frame(mac(3), peer, '10.1.0.2', '10.1.0.1')), 'not-our-mac')
  t.equal(check(ipv4Frame(own, mac(3), '10.1.0.2', '10.1.0.1')), 'foreign-src-mac')
  t.equal(check(arpBroadcast(peer, '10.1.0.2')), null)
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
  const sender = new PeerBinding({ mac: peer, ipv4: { address: '10.1.0.2', prefix: 16 }, ipv6: null })
  const global = Buffer.from('fd000000000000000000000000000001', 'hex')
  t.equal(f.check(ipv6Frame(own, peer, global), 80, sender), 'not-our-ip')
  f.addIpv6(global)
  t.equal(f.check(ipv6Frame(own, peer, global), 80, sender), null)
  t.equal(f.check(ipv6Frame(own, peer, Buffer.from('fe800000000000000000000000000002', 'hex')), 80, sender), null)
  t.equal(f.check(ipv6Frame(own, peer, Buffer.from('fd000000000000000000000000000002', 'hex')), 80, sender), 'not-our-ip')
  t.equal(f.check(ipv4Frame(own, peer, '10.1.0.2', '10.1.0.1'), 98, sender), 'not-our-ip', 'no IPv4 address yet: unicast IPv4 refused')
  t.end()
})

/**
 * An IPv6 ICMP message of `type` to `dstIp` (16 bytes), with `extensionHeaders` 8-byte headers (next
 * header of each given) before it; room for a neighbour discovery target (left ::).
 */
function icmpv6(dst: Buffer, src: Buffer, dstIp: Buffer, type: number, extensionHeaders: number[] = []): Buffer {
  const frame = ipv6Frame(dst, src, dstIp, 54 + extensionHeaders.length * 8 + 24)
  let next = 20 // the IPv6 header's next-header byte
  let at = 54
  for (const header of extensionHeaders) {
    frame[next] = header
    next = at // the extension header's own next-header byte
    frame[at + 1] = 0 // length: 8 bytes
    at += 8
  }
  frame[next] = 58
  frame[at] = type
  return frame
}

t.test('filter: no member is the host’s router: router advertisements and redirects are dropped, neighbour discovery passes', (t) => {
  const { own, peer, check } = filterFor('10.1.0.1')
  const allNodes = Buffer.from('ff020000000000000000000000000001', 'hex')
  const allNodesMac = Buffer.from('333300000001', 'hex')
  const linkLocal = Buffer.from('fe800000000000000000000000000001', 'hex')
  t.equal(check(icmpv6(allNodesMac, peer, allNodes, 134)), 'router-message', 'router advertisement to ff02::1')
  t.equal(check(icmpv6(own, peer, linkLocal, 134)), 'router-message', 'router advertisement to our link-local address')
  t.equal(check(icmpv6(allNodesMac, peer, allNodes, 134, [0])), 'router-message', 'behind a hop-by-hop header')
  t.equal(check(icmpv6(allNodesMac, peer, allNodes, 134, [60, 0, 43])), 'router-message', 'behind three extension headers')
  t.equal(check(icmpv6(own, peer, linkLocal, 137)), 'router-message', 'redirect')
  t.equal(check(icmpv6(allNodesMac, peer, allNodes, 134, [60, 60, 60, 60, 60, 60, 60, 60, 60])), 'bad-ip-header', 'a chain of nine extension headers is refused')
  const cut = icmpv6(allNodesMac, peer, allNodes, 134, [0])
  t.equal(check(cut.subarray(0, 60)), 'bad-ip-header', 'an extension header cut by the frame end is refused')
  t.equal(check(icmpv6(allNodesMac, peer, allNodes, 135)), null, 'neighbour solicitation passes')
  const advertisement = icmpv6(own, peer, linkLocal, 136)
  eui64LinkLocal(peer).copy(advertisement, 54 + 8)
  t.equal(check(advertisement), null, 'neighbour advertisement of the peer’s own link-local address passes')
  t.equal(check(icmpv6(allNodesMac, peer, allNodes, 133)), null, 'router solicitation passes (we never answer it)')
  const redirect = ipv4Frame(own, peer, '10.1.0.2', '10.1.0.1')
  redirect[23] = 1 // ICMP
  redirect[34] = 5 // redirect
  t.equal(check(redirect), 'router-message', 'an ICMP redirect')
  t.end()
})

t.test('filter: ARP only about our overlay address or a peer announcing its own; non-IP EtherTypes never pass', (t) => {
  const { f, own, peer, check } = filterFor(null)
  t.equal(check(arpBroadcast(peer, '10.1.0.2', '10.1.0.1')), 'not-our-ip', 'no overlay address yet: no ARP passes')
  f.setIpv4(ipv4ToNumber('10.1.0.1'), 16)
  t.equal(check(arpBroadcast(peer, '10.1.0.2', '10.1.0.1')), null, 'a request for our address')
  t.equal(check(arpBroadcast(peer, '10.1.0.2')), null, 'a peer announcing its overlay address')
  t.equal(check(arpBroadcast(peer, '10.1.0.2', '192.168.1.1')), 'not-our-ip', 'a request for an address of another interface of the host')
  t.equal(check(arpBroadcast(peer, '192.168.1.1')), 'foreign-arp-sender', 'a gratuitous request for an address its certificate does not bind')
  t.equal(check(arpBroadcast(peer, '10.1.0.2', '10.1.0.1').subarray(0, 40)), 'runt', 'a cut ARP body')
  for (const [etherType, name] of [[0x88cc, 'LLDP'], [0x888e, '802.1X'], [0x8847, 'MPLS'], [0x8864, 'PPPoE'], [0x0842, 'wake-on-LAN'], [0x0060, 'an 802.3 length']] as const) {
    const frame = Buffer.alloc(60)
    own.copy(frame, 0)
    peer.copy(frame, 6)
    frame.writeUInt16BE(etherType, 12)
    t.equal(check(frame), 'not-ip', name)
  }
  t.end()
})
