// A peer's frames may claim only the addresses its certificate binds: source MAC, IPv4 source, ARP
// sender, IPv6 source (its own, its MAC's link-local, or ::) and a Neighbor Advertisement's target.
// Each refusal is counted under its own reason.
import t from 'tap'
import { FrameFilter } from '../../src/edge/frame-filter.js'
import { PeerBinding, eui64LinkLocal } from '../../src/edge/peer-binding.js'
import { ipv4ToNumber } from '../../src/supernode/auto-ip.js'
import { arpBroadcast, ipv4Frame, ipv6Frame, mac } from '../fixtures/frames.js'

const own = mac(1)
const peer = mac(2)
const other = mac(3)
const ownGlobal = Buffer.from('fd000000000000000000000000000001', 'hex')
const peerGlobal = Buffer.from('fd000000000000000000000000000002', 'hex')
const otherGlobal = Buffer.from('fd000000000000000000000000000003', 'hex')
const allNodes = Buffer.from('ff020000000000000000000000000001', 'hex')
const allNodesMac = Buffer.from('333300000001', 'hex')
const unspecified = Buffer.alloc(16)

function ourFilter(): FrameFilter {
  const f = new FrameFilter(own)
  f.setIpv4(ipv4ToNumber('10.9.0.1'), 24)
  f.addIpv6(ownGlobal)
  return f
}

const withBoth = new PeerBinding({ mac: peer, ipv4: { address: '10.9.0.2', prefix: 24 }, ipv6: { address: 'fd00::2', prefix: 64 } })
const withoutIpv4 = new PeerBinding({ mac: peer, ipv4: null, ipv6: null })

/** Ethernet + IPv6 from `srcIp` to `dstIp`, UDP. */
function ipv6From(dst: Buffer, srcIp: Buffer, dstIp: Buffer): Buffer {
  const frame = ipv6Frame(dst, peer, dstIp)
  srcIp.copy(frame, 22)
  return frame
}

/** An ICMPv6 neighbour message (135 solicitation, 136 advertisement) from `srcIp` about `target`. */
function neighbour(type: 135 | 136, dst: Buffer, srcIp: Buffer, dstIp: Buffer, target: Buffer, size = 78): Buffer {
  const frame = ipv6Frame(dst, peer, dstIp, size)
  srcIp.copy(frame, 22)
  frame[20] = 58
  frame[54] = type
  if (size >= 78) target.copy(frame, 62)
  return frame
}

t.test('the link-local address a MAC gives is fe80::/64 with its modified EUI-64', (t) => {
  t.equal(eui64LinkLocal(Buffer.from('020000000002', 'hex')).toString('hex'), 'fe80000000000000000000fffe000002', '02:00:00:00:00:02 is fe80::ff:fe00:2')
  t.equal(eui64LinkLocal(Buffer.from('5254001234ab', 'hex')).toString('hex'), 'fe800000000000005054' + '00fffe1234ab', 'the universal/local bit flipped')
  t.end()
})

t.test('IPv4: the source must be the certificate’s address', (t) => {
  const f = ourFilter()
  t.equal(f.check(ipv4Frame(own, peer, '10.9.0.2', '10.9.0.1'), 98, withBoth), null, 'its own address')
  t.equal(f.check(ipv4Frame(own, peer, '10.9.0.3', '10.9.0.1'), 98, withBoth), 'foreign-src-ip', 'another member’s address')
  t.equal(f.check(ipv4Frame(own, peer, '192.168.1.7', '10.9.0.1'), 98, withBoth), 'foreign-src-ip', 'an address off the overlay')
  t.equal(f.check(ipv4Frame(own, other, '10.9.0.2', '10.9.0.1'), 98, withBoth), 'foreign-src-mac', 'its address from another MAC')
  t.end()
})

t.test('ARP: the sender address must be the certificate’s (or 0.0.0.0, a probe)', (t) => {
  const f = ourFilter()
  t.equal(f.check(arpBroadcast(peer, '10.9.0.2', '10.9.0.1'), 60, withBoth), null, 'asking for our address as itself')
  t.equal(f.check(arpBroadcast(peer, '10.9.0.2'), 60, withBoth), null, 'announcing its own address')
  t.equal(f.check(arpBroadcast(peer, '0.0.0.0', '10.9.0.1'), 60, withBoth), null, 'an address probe (RFC 5227) claims nothing')
  t.equal(f.check(arpBroadcast(peer, '10.9.0.3', '10.9.0.1'), 60, withBoth), 'foreign-arp-sender', 'asking as another member')
  t.equal(f.check(arpBroadcast(peer, '10.9.0.3'), 60, withBoth), 'foreign-arp-sender', 'announcing another member’s address')
  t.end()
})

t.test('a certificate without IPv4 allows no IPv4 and no ARP, and still IPv6 link-local', (t) => {
  const f = ourFilter()
  t.equal(f.check(ipv4Frame(own, peer, '10.9.0.2', '10.9.0.1'), 98, withoutIpv4), 'no-ipv4-bound')
  t.equal(f.check(arpBroadcast(peer, '10.9.0.2', '10.9.0.1'), 60, withoutIpv4), 'no-ipv4-bound')
  t.equal(f.check(arpBroadcast(peer, '0.0.0.0', '10.9.0.1'), 60, withoutIpv4), 'no-ipv4-bound', 'not even a probe')
  t.equal(f.check(ipv6From(own, eui64LinkLocal(peer), eui64LinkLocal(own)), 80, withoutIpv4), null)
  t.equal(f.check(ipv6From(own, peerGlobal, ownGlobal), 80, withoutIpv4), 'foreign-src-ip', 'no IPv6 overlay address either')
  t.end()
})

t.test('IPv6: the source must be its address, its MAC’s link-local address, or ::', (t) => {
  const f = ourFilter()
  t.equal(f.check(ipv6From(own, peerGlobal, ownGlobal), 80, withBoth), null, 'its overlay address')
  t.equal(f.check(ipv6From(own, eui64LinkLocal(peer), ownGlobal), 80, withBoth), null, 'its link-local address')
  t.equal(f.check(ipv6From(allNodesMac, unspecified, allNodes), 80, withBoth), null, ':: (duplicate address detection)')
  t.equal(f.check(ipv6From(own, otherGlobal, ownGlobal), 80, withBoth), 'foreign-src-ip', 'another member’s overlay address')
  t.equal(f.check(ipv6From(own, eui64LinkLocal(other), ownGlobal), 80, withBoth), 'foreign-src-ip', 'another MAC’s link-local address')
  t.equal(f.check(ipv6From(own, Buffer.from('fe800000000000000000000000000002', 'hex'), ownGlobal), 80, withBoth), 'foreign-src-ip', 'a link-local address not from its MAC')
  t.end()
})

t.test('neighbour discovery: an advertisement may name only the sender’s own addresses', (t) => {
  const f = ourFilter()
  const linkLocal = eui64LinkLocal(peer)
  t.equal(f.check(neighbour(136, own, linkLocal, eui64LinkLocal(own), linkLocal), 78, withBoth), null, 'its link-local address')
  t.equal(f.check(neighbour(136, allNodesMac, linkLocal, allNodes, peerGlobal), 78, withBoth), null, 'its overlay address, unsolicited')
  t.equal(f.check(neighbour(136, allNodesMac, linkLocal, allNodes, otherGlobal), 78, withBoth), 'foreign-nd-target', 'another member’s address')
  t.equal(f.check(neighbour(136, allNodesMac, linkLocal, allNodes, ownGlobal), 78, withBoth), 'foreign-nd-target', 'our own address')
  t.equal(f.check(neighbour(136, allNodesMac, linkLocal, allNodes, otherGlobal, 70), 70, withBoth), 'bad-ip-header', 'an advertisement cut before its target')
  t.equal(f.check(neighbour(135, allNodesMac, unspecified, allNodes, ownGlobal), 78, withBoth), null, 'a solicitation (a question) may ask about any address')
  t.end()
})
