// `--allow tcp/443,tcp/22,udp/53,icmp`: what may reach the host from the overlay, on top of the
// forwarding-disabled filter. Connections the host opens itself are tracked from its outbound
// frames, so their replies pass whatever the list says. ARP and IPv6 neighbour discovery always
// pass (without them nothing works), as do ICMP errors (they answer the host's own traffic).
// Router advertisements and redirects never get here: the forwarding-disabled filter drops them.
import {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  FrameInfo,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  ipv6HexAt,
  readFrameInfo,
} from '../wire/index.js'

/** Flows the host opened, kept at most this long idle and at most this many at once. */
export const FLOW_IDLE_MS = { tcp: 5 * 60_000, udp: 60_000, icmp: 30_000 }
export const MAX_FLOWS = 8192

const TCP_SYN = 0x02
const TCP_ACK = 0x10
const ICMP_ECHO_REQUEST = 8
const ICMP_ECHO_REPLY = 0
const ICMPV6_ECHO_REQUEST = 128
const ICMPV6_ECHO_REPLY = 129
/** destination unreachable, time exceeded, parameter problem */
const ICMP_ERRORS = new Set([3, 11, 12])
/** ICMPv6 errors 1-4; MLD 130-132 and 143; router solicitation 133, neighbour solicitation and advertisement 135-136 */
const ICMPV6_ALWAYS = new Set([1, 2, 3, 4, 130, 131, 132, 133, 135, 136, 143])

export interface PortRange {
  from: number
  to: number
}

export interface AllowRules {
  tcp: PortRange[]
  udp: PortRange[]
  icmp: boolean
}

/** Parses "tcp/443,tcp/8000-8080,udp/53,icmp"; throws with the item that is wrong. */
export function parseAllow(spec: string): AllowRules {
  const rules: AllowRules = { tcp: [], udp: [], icmp: false }
  for (const raw of spec.split(',')) {
    const item = raw.trim().toLowerCase()
    if (item === '') continue
    if (item === 'icmp') {
      rules.icmp = true
      continue
    }
    const match = /^(tcp|udp)\/(\d{1,5})(?:-(\d{1,5}))?$/.exec(item)
    const from = Number(match?.[2])
    const to = match?.[3] !== undefined ? Number(match[3]) : from
    if (!match || from < 1 || to > 65535 || to < from) throw new Error(`--allow: "${raw.trim()}" is not tcp/PORT, udp/PORT, tcp/FROM-TO or icmp`)
    rules[match[1] as 'tcp' | 'udp'].push({ from, to })
  }
  return rules
}

export type AllowVerdict = null | 'not-allowed'

export class AllowFilter {
  private readonly info = new FrameInfo()
  /** flow key → when it was last seen; Map order is age order (refreshed by delete + set) */
  private readonly flows = new Map<string, number>()

  constructor(readonly rules: AllowRules) {}

  get flowCount(): number {
    return this.flows.size
  }

  /** Remembers a flow the host opens (a frame from the TAP), so that its replies pass. */
  outbound(frame: Buffer, now: number): void {
    const info = this.info
    if (readFrameInfo(frame, frame.length, info) !== null || info.ipVersion === 0) return
    // the host is the source: remember (protocol, remote address, remote port, local port)
    const key = this.flowKey(frame, info, 'outbound')
    if (key === null) return
    this.flows.delete(key)
    if (this.flows.size >= MAX_FLOWS) this.flows.delete(this.flows.keys().next().value!)
    this.flows.set(key, now)
  }

  /**
   * For a frame that passed the forwarding-disabled filter (whose FrameInfo is given): null when it
   * may reach the host, 'not-allowed' when not.
   */
  inbound(frame: Buffer, info: FrameInfo, now: number): AllowVerdict {
    if (info.etherType !== ETHERTYPE_IPV4 && info.etherType !== ETHERTYPE_IPV6) return null // ARP and other non-IP
    const proto = info.protocol
    if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
      if (this.rules.icmp) return null
      if (proto === IPPROTO_ICMP && ICMP_ERRORS.has(info.icmpType)) return null
      if (proto === IPPROTO_ICMPV6 && ICMPV6_ALWAYS.has(info.icmpType)) return null
    } else if (proto === IPPROTO_TCP || proto === IPPROTO_UDP) {
      const ranges = proto === IPPROTO_TCP ? this.rules.tcp : this.rules.udp
      for (const r of ranges) if (info.dstPort >= r.from && info.dstPort <= r.to) return null
    }
    const key = this.flowKey(frame, info, 'inbound')
    if (key === null) return 'not-allowed'
    const seen = this.flows.get(key)
    if (seen === undefined || now - seen > this.idleFor(proto)) return 'not-allowed'
    // a reply to a TCP connection the host opened never carries a bare SYN
    if (proto === IPPROTO_TCP && (info.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN) return 'not-allowed'
    this.flows.delete(key)
    this.flows.set(key, now)
    return null
  }

  private idleFor(proto: number): number {
    return proto === IPPROTO_TCP ? FLOW_IDLE_MS.tcp : proto === IPPROTO_UDP ? FLOW_IDLE_MS.udp : FLOW_IDLE_MS.icmp
  }

  /** The same key for a packet the host sent and for the reply to it. */
  private flowKey(frame: Buffer, info: FrameInfo, direction: 'outbound' | 'inbound'): string | null {
    const out = direction === 'outbound'
    const remote = info.ipVersion === 4 ? String(out ? info.ipv4Dst : info.ipv4Src) : ipv6HexAt(frame, out ? info.ipv6DstOffset : info.ipv6SrcOffset)
    const proto = info.protocol
    if (proto === IPPROTO_TCP || proto === IPPROTO_UDP) {
      if (info.srcPort === 0 && info.dstPort === 0) return null
      const remotePort = out ? info.dstPort : info.srcPort
      const localPort = out ? info.srcPort : info.dstPort
      return `${proto}|${remote}|${remotePort}|${localPort}`
    }
    if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) {
      const request = proto === IPPROTO_ICMP ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST
      const reply = proto === IPPROTO_ICMP ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY
      if (info.icmpType !== (out ? request : reply)) return null
      return `${proto}|${remote}|echo|${info.icmpId}`
    }
    return null
  }
}
