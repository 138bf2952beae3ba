// --allow: listed ports pass, others do not; ARP, neighbour discovery and ICMP errors always pass;
// replies to the host's own connections pass, a bare SYN posing as one does not.
import t from 'tap'
import { AllowFilter, FLOW_IDLE_MS, parseAllow } from '../../src/edge/allow-filter.js'
import { FrameInfo, readFrameInfo } from '../../src/wire/index.js'
import { arpBroadcast, ipv4Frame, ipv6Frame, mac } from '../fixtures/frames.js'

const host = mac(1)
const tech = mac(2)

/** An IPv4 TCP/UDP/ICMP frame with ports (or ICMP type/id) filled in. */
function l4(src: string, dst: string, proto: number, a: number, b: number, tcpFlags = 0x10): Buffer {
  const frame = ipv4Frame(host, tech, src, dst, 74)
  frame[23] = proto
  if (proto === 1) {
    frame[34] = a // type
    frame.writeUInt16BE(b, 38) // id
  } else {
    frame.writeUInt16BE(a, 34)
    frame.writeUInt16BE(b, 36)
    frame[47] = tcpFlags
  }
  return frame
}

function verdict(f: AllowFilter, frame: Buffer, now = 0): string | null {
  const info = new FrameInfo()
  readFrameInfo(frame, frame.length, info)
  return f.inbound(frame, info, now)
}

t.test('parse', (t) => {
  t.same(parseAllow('tcp/443, tcp/8000-8080,udp/53,icmp'), { tcp: [{ from: 443, to: 443 }, { from: 8000, to: 8080 }], udp: [{ from: 53, to: 53 }], icmp: true })
  for (const bad of ['tcp', 'tcp/0', 'tcp/70000', 'sctp/1', 'tcp/9-8', 'icmp6']) t.throws(() => parseAllow(bad), { message: /--allow/ }, bad)
  t.end()
})

t.test('listed ports pass, others and ping do not', (t) => {
  const f = new AllowFilter(parseAllow('tcp/8080'))
  t.equal(verdict(f, l4('10.9.0.2', '10.9.0.1', 6, 40000, 8080, 0x02)), null, 'SYN to 8080')
  t.equal(verdict(f, l4('10.9.0.2', '10.9.0.1', 6, 40000, 2222, 0x02)), 'not-allowed', 'SYN to 2222')
  t.equal(verdict(f, l4('10.9.0.2', '10.9.0.1', 17, 40000, 8080)), 'not-allowed', 'udp/8080 is not tcp/8080')
  t.equal(verdict(f, l4('10.9.0.2', '10.9.0.1', 1, 8, 7)), 'not-allowed', 'echo request without icmp')
  t.equal(verdict(f, l4('10.9.0.2', '10.9.0.1', 1, 3, 0)), null, 'ICMP unreachable always')
  t.equal(verdict(f, arpBroadcast(tech)), null, 'ARP always')
  const ns = ipv6Frame(host, tech, Buffer.from('ff0200000000000000000001ff000001', 'hex'))
  ns[20] = 58 // ICMPv6
  ns[54] = 135 // neighbour solicitation
  t.equal(verdict(f, ns), null, 'IPv6 neighbour discovery always')
  t.end()
})

t.test('replies to connections the host opened pass; they expire; a SYN is never a reply', (t) => {
  const f = new AllowFilter(parseAllow('tcp/22'))
  // the host (10.9.0.1) connects to the technician's 10.9.0.2:5000 and pings it
  f.outbound(l4('10.9.0.1', '10.9.0.2', 6, 41000, 5000, 0x02).subarray(0), 0)
  f.outbound(l4('10.9.0.1', '10.9.0.2', 1, 8, 99), 0)
  t.equal(f.flowCount, 2)
  t.equal(verdict(f, l4('10.9.0.2', '10.9.0.1', 6, 5000, 41000, 0x12), 1000), null, 'SYN-ACK reply passes')
  t.equal(verdict(f, l4('10.9.0.2', '10.9.0.1', 6, 5000, 41001, 0x12), 1000), 'not-allowed', 'other local port')
  t.equal(verdict(f, l4('10.9.0.3', '10.9.0.1', 6, 5000, 41000, 0x12), 1000), 'not-allowed', 'other remote address')
  t.equal(verdict(f, l4('10.9.0.2', '10.9.0.1', 6, 5000, 41000, 0x02), 1000), 'not-allowed', 'a bare SYN on that flow')
  t.equal(verdict(f, l4('10.9.0.2', '10.9.0.1', 1, 0, 99), 1000), null, 'echo reply to our ping')
  t.equal(verdict(f, l4('10.9.0.2', '10.9.0.1', 1, 0, 98), 1000), 'not-allowed', 'echo reply with another id')
  t.equal(verdict(f, l4('10.9.0.2', '10.9.0.1', 1, 0, 99), 1000 + FLOW_IDLE_MS.icmp + 1), 'not-allowed', 'expired after idling')
  t.end()
})
