// What netcheck found, in plain sentences that a user can read and forward to support as they
// are. A pure function of the report: the CLI prints them, the assistance console shows them.
import type { NetcheckReport, PortResult, TlsResult } from './report.js'

/** Beyond this, a clock is wrong enough to matter: certificates' validity windows are checked against it. */
export const CLOCK_SKEW_TOLERANCE_MS = 30_000

export function netcheckSentences(report: NetcheckReport): string[] {
  const sentences: string[] = []
  const anyUdp = report.udp.reachable
  if (anyUdp) {
    for (const [supernode, ports] of bySupernode(report.ports)) sentences.push(udpSentence(supernode, ports))
    sentences.push(...tlsBesideUdp(report.tls))
    sentences.push(...natSentences(report))
  } else if (report.tls.reachable) {
    sentences.push(`UDP is blocked on this network; ${tlsName(report.tls)} works (${ms(report.tls.rttMs)})${viaProxy(report.tls)}: overlan will connect through it, slower.`)
    sentences.push(`${noUdpAnswer(report.ports)}.`)
  } else {
    sentences.push(`overlan cannot connect from this network: ${lowerFirst(noUdpAnswer(report.ports))}, and ${tlsFailure(report.tls, ' either')}.`)
    sentences.push(adminHint(report))
  }
  sentences.push(...ipv6Sentences(report))
  if (report.canConnect) sentences.push(clockSentence(report.clockSkewMs))
  return sentences
}

function bySupernode(ports: readonly PortResult[]): Map<string, PortResult[]> {
  const map = new Map<string, PortResult[]>()
  for (const p of ports) map.set(p.supernode, [...(map.get(p.supernode) ?? []), p])
  return map
}

function udpSentence(supernode: string, ports: PortResult[]): string {
  const working = ports.filter((p) => p.reachable)
  const silent = ports.filter((p) => !p.reachable)
  if (working.length === 0) return `UDP to the supernode ${supernode} gets no answer (${portList(silent)}): it may be down, or this network blocks that.`
  const fastest = Math.min(...working.map((p) => p.rttMs ?? Infinity))
  const where = ports.length === 1 ? '' : ` on ${portList(working)}`
  const rest = silent.length === 0 ? '' : `; ${portList(silent)} ${silent.length === 1 ? 'gets' : 'get'} no answer`
  return `UDP to the supernode ${supernode} works${where} (${ms(fastest)})${rest}.`
}

function tlsBesideUdp(tls: TlsResult): string[] {
  if (!tls.tested) return ['No HTTPS fallback was given (--fallback), so it was not tested: if UDP stops working here, overlan has no other way.']
  if (tls.reachable) return [`${capital(tlsName(tls))} works too (${ms(tls.rttMs)})${viaProxy(tls)}: overlan can use it if UDP stops working.`]
  return [`${capital(tlsFailure(tls, ''))}; overlan uses UDP, which works.`]
}

function natSentences(report: NetcheckReport): string[] {
  const nat = report.nat
  if (nat.behindNat === false) return [`This device is not behind NAT (the supernode sees its own address): direct connections will work.`]
  const sentences: string[] = []
  if (nat.mapping === 'endpoint-independent') sentences.push('Your NAT keeps the same public port for every destination (easy NAT): direct connections will work.')
  else if (nat.mapping === 'endpoint-dependent')
    sentences.push(
      'Your NAT gives each destination a different public port (hard, symmetric NAT): direct connections need birthday punching and may fall back to the relay through the supernode, which is slower.',
    )
  else sentences.push('Only one supernode port answered, so the kind of NAT is not known (two supernodes, or a supernode with two UDP ports, tell it).')
  if (nat.portPreserved === true) sentences.push(`Your NAT keeps this device's own UDP port (${nat.localPort}) on the outside.`)
  else if (nat.portPreserved === false) {
    const seen = nat.publicEndpoints.map((e) => e.slice(e.lastIndexOf(':') + 1))
    sentences.push(`Your NAT changes this device's UDP port (${nat.localPort} becomes ${seen.join(', ')}).`)
  }
  return sentences
}

function ipv6Sentences(report: NetcheckReport): string[] {
  const v6 = report.ipv6
  if (!v6.hasGlobalAddress) return ['This device has no global IPv6 address: overlan uses IPv4.']
  if (!v6.tested) return ['This device has an IPv6 address, but the supernode has none, so IPv6 was not tested.']
  if (v6.reachable) return [`This device has IPv6 and reaches the supernode over it (${ms(v6.rttMs)}).`]
  return ['This device has an IPv6 address but gets no answer from the supernode over IPv6: overlan uses IPv4.']
}

function clockSentence(skewMs: number | null): string {
  if (skewMs === null) return 'The supernode did not tell its time, so the clock was not checked.'
  const off = duration(Math.abs(skewMs))
  if (Math.abs(skewMs) < 1_000) return "This device's clock agrees with the supernode's (less than a second apart)."
  if (Math.abs(skewMs) <= CLOCK_SKEW_TOLERANCE_MS) return `This device's clock agrees with the supernode's (${off} apart).`
  const way = skewMs > 0 ? 'behind' : 'ahead of'
  return `This device's clock is ${off} ${way} the supernode's: set it right (turn on NTP), as certificates will need it.`
}

function adminHint(report: NetcheckReport): string {
  const first = report.ports[0]
  const udp = first ? `outgoing UDP to ${first.supernode} port ${first.port}` : 'outgoing UDP to the supernode'
  const tls = report.tls.url === null ? '' : `, or ${scheme(report.tls.url)} to ${hostOf(report.tls.url)}`
  return `Ask this network's administrator to allow ${udp}${tls}, or try another network.`
}

function noUdpAnswer(ports: readonly PortResult[]): string {
  if (ports.length === 0) return 'No supernode was given to test UDP with'
  return `No supernode answers over UDP (${[...bySupernode(ports)].map(([s, p]) => `${s} ${portList(p)}`).join('; ')})`
}

function tlsFailure(tls: TlsResult, either: string): string {
  if (!tls.tested) return 'no HTTPS fallback was given (--fallback)'
  return `${tlsName(tls)} does not work${either} (${tls.error ?? 'no answer'})`
}

/** "HTTPS on port 443" for wss://, "plain HTTP on port 80" for ws:// */
function tlsName(tls: TlsResult): string {
  if (tls.url === null) return 'HTTPS'
  const url = new URL(tls.url)
  const port = url.port || (url.protocol === 'wss:' ? '443' : '80')
  return `${scheme(tls.url)} on port ${port}`
}

function scheme(url: string): string {
  return url.startsWith('wss:') ? 'HTTPS' : 'plain HTTP'
}

function hostOf(url: string): string {
  return new URL(url).hostname
}

function viaProxy(tls: TlsResult): string {
  return tls.proxy === null ? '' : ` through the proxy ${tls.proxy}`
}

function portList(ports: readonly PortResult[]): string {
  const numbers = ports.map((p) => String(p.port))
  if (numbers.length === 1) return `port ${numbers[0]}`
  return `ports ${numbers.slice(0, -1).join(', ')} and ${numbers[numbers.length - 1]}`
}

function ms(value: number | null): string {
  if (value === null) return 'time unknown'
  return value < 1 ? 'under 1 ms' : `${Math.round(value)} ms`
}

/** "0.3 s", "42 s", "5 min 3 s", "2 h 10 min" (to the nearest second) */
function duration(msAbs: number): string {
  if (msAbs < 10_000) return `${(msAbs / 1000).toFixed(1)} s`
  const s = Math.round(msAbs / 1000)
  if (s < 60) return `${s} s`
  const minutes = Math.floor(s / 60)
  if (minutes < 60) return `${minutes} min ${s % 60} s`
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1)
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
