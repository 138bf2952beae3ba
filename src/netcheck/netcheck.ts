// `overlan netcheck` as a library: asks every supernode port over UDP from one socket, the
// fallback URLs over TLS, and IPv6 where the host has it, all at once; then classifies the NAT,
// reads the clock skew and words the result (sentences.ts). The assistance console's connection
// test runs the same thing. Nothing here reads argv or the environment: the caller passes them.
import { lookup as dnsLookup } from 'node:dns/promises'
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os'
import { classifyNat, type Sighting } from './nat.js'
import { hasGlobalIpv6, localAddresses } from './ipv6.js'
import type { Ipv6Result, NetcheckReport, PortResult, TlsResult } from './report.js'
import { netcheckSentences } from './sentences.js'
import { clockSkewMs } from './skew.js'
import { probeUdp, type UdpAnswer, type UdpProbeResult, type UdpTarget } from './udp-probe.js'

/** A supernode that answers at all answers within this on any sane path (three HELLOs in it). */
export const NETCHECK_TIMEOUT_MS = 2_000
/** The fallback needs more round trips (TCP, a proxy's CONNECT, TLS, the upgrade) before its HELLO. */
export const NETCHECK_TLS_TIMEOUT_MS = 5_000

export interface SupernodeTarget {
  host: string
  ports: number[]
}

/** What one fallback URL gave: a COOKIE for our HELLO over the WebSocket, or why not; `proxy`: the HTTP proxy it went through. */
export type TlsProbe = ({ ok: true; rttMs: number; supernodeTimeMs: number | null; sentAtMs: number; receivedAtMs: number } | { ok: false; error: string }) & { proxy: string | null }

export interface NetcheckConfig {
  supernodes: SupernodeTarget[]
  /** wss:// (or ws://) URLs of the supernodes' WebSocket listeners */
  fallbacks: string[]
  /** for UDP; the fallback gets NETCHECK_TLS_TIMEOUT_MS or this, whichever is longer */
  timeoutMs?: number
}

export interface NetcheckDeps {
  /** one HELLO over a WebSocket to `url`, answered by a COOKIE */
  probeTls: (url: string, timeoutMs: number) => Promise<TlsProbe>
  lookup?: (host: string) => Promise<{ address: string; family: number }[]>
  interfaces?: () => NodeJS.Dict<NetworkInterfaceInfo[]>
}

export type NetcheckResult = NetcheckReport & { sentences: string[] }

interface Resolved {
  target: SupernodeTarget
  v4: string | null
  v6: string | null
  error: string | null
}

export async function runNetcheck(config: NetcheckConfig, deps: NetcheckDeps): Promise<NetcheckResult> {
  const timeoutMs = config.timeoutMs ?? NETCHECK_TIMEOUT_MS
  const lookup = deps.lookup ?? ((host: string) => dnsLookup(host, { all: true }))
  const interfaces = (deps.interfaces ?? networkInterfaces)()
  const globalV6 = hasGlobalIpv6(interfaces)
  const resolved = await Promise.all(config.supernodes.map((target) => resolve(target, lookup)))

  const v4Targets = targetsOf(resolved, (r) => r.v4)
  // a supernode known only by an IPv6 address is asked over IPv6 whatever the host has
  const v6Targets = targetsOf(resolved, (r) => (globalV6 || r.v4 === null ? r.v6 : null))
  const [v4, v6, tls] = await Promise.all([
    probeUdp(v4Targets.map((t) => t.udp), 4, timeoutMs),
    probeUdp(v6Targets.map((t) => t.udp), 6, timeoutMs),
    probeFallbacks(config.fallbacks, deps, Math.max(timeoutMs, NETCHECK_TLS_TIMEOUT_MS)),
  ])

  const ports: PortResult[] = []
  const primary = v4Targets.length > 0 ? { targets: v4Targets, result: v4 } : { targets: v6Targets, result: v6 }
  for (const r of resolved) {
    for (const port of r.target.ports) {
      const useV4 = r.v4 !== null
      const list = useV4 ? v4Targets : v6Targets
      const result = useV4 ? v4 : v6
      const i = list.findIndex((t) => t.resolved === r && t.udp.port === port)
      ports.push(portResult(r, port, i === -1 ? null : result.answers[i]!))
    }
  }
  const sightings: Sighting[] = []
  primary.targets.forEach((t, i) => {
    const a = primary.result.answers[i]!
    if (a.ok) sightings.push({ destination: `${t.udp.address}:${t.udp.port}`, address: unmapped(a.answer.reflexive.address), port: a.answer.reflexive.port })
  })
  const nat = classifyNat(primary.result.localPort, sightings, localAddresses(interfaces))
  const reachable = ports.filter((p) => p.reachable)
  const udp = { reachable: reachable.length > 0, rttMs: reachable.length > 0 ? Math.min(...reachable.map((p) => p.rttMs!)) : null }
  const ipv6 = ipv6Result(globalV6, v6Targets.length > 0 && globalV6, v6)
  const report: NetcheckReport = { udp, ports, nat, tls: tls.result, ipv6, clockSkewMs: udpSkew(v4, v6) ?? tls.skewMs, canConnect: udp.reachable || tls.result.reachable }
  return { ...report, sentences: netcheckSentences(report) }
}

/** The skew by the fastest UDP answer: the shorter the round trip, the less it can be off. */
function udpSkew(...probes: UdpProbeResult[]): number | null {
  let best: UdpAnswer | null = null
  for (const probe of probes) for (const a of probe.answers) if (a.ok && (best === null || a.answer.rttMs < best.rttMs)) best = a.answer
  return best === null ? null : clockSkewMs(best.sentAtMs, best.receivedAtMs, best.supernodeTimeMs)
}

async function resolve(target: SupernodeTarget, lookup: NonNullable<NetcheckDeps['lookup']>): Promise<Resolved> {
  try {
    const all = await lookup(target.host)
    return { target, v4: all.find((a) => a.family === 4)?.address ?? null, v6: all.find((a) => a.family === 6)?.address ?? null, error: null }
  } catch {
    return { target, v4: null, v6: null, error: `cannot resolve ${target.host}` }
  }
}

function targetsOf(resolved: Resolved[], pick: (r: Resolved) => string | null): { resolved: Resolved; udp: UdpTarget }[] {
  const out: { resolved: Resolved; udp: UdpTarget }[] = []
  for (const r of resolved) {
    const address = pick(r)
    if (address !== null) for (const port of r.target.ports) out.push({ resolved: r, udp: { address, port } })
  }
  return out
}

function portResult(r: Resolved, port: number, answer: UdpProbeResult['answers'][number] | null): PortResult {
  const base = { supernode: r.target.host, port }
  if (answer === null) return { ...base, reachable: false, rttMs: null, publicEndpoint: null, error: r.error ?? `${r.target.host} has no address this host can use` }
  if (!answer.ok) return { ...base, reachable: false, rttMs: null, publicEndpoint: null, error: answer.error }
  const seen = answer.answer.reflexive
  const address = unmapped(seen.address)
  return { ...base, reachable: true, rttMs: round(answer.answer.rttMs), publicEndpoint: address.includes(':') ? `[${address}]:${seen.port}` : `${address}:${seen.port}` }
}

function ipv6Result(hasGlobalAddress: boolean, tested: boolean, v6: UdpProbeResult): Ipv6Result {
  const rtts = tested ? v6.answers.flatMap((a) => (a.ok ? [a.answer.rttMs] : [])) : []
  return { hasGlobalAddress, tested, reachable: rtts.length > 0, rttMs: rtts.length > 0 ? round(Math.min(...rtts)) : null }
}

/** Every fallback URL at once; the fastest that answers is the result, else the first's failure. */
async function probeFallbacks(urls: string[], deps: NetcheckDeps, timeoutMs: number): Promise<{ result: TlsResult; skewMs: number | null }> {
  if (urls.length === 0) return { result: { tested: false, reachable: false, rttMs: null, url: null, proxy: null }, skewMs: null }
  const probes = await Promise.all(urls.map((url) => deps.probeTls(url, timeoutMs)))
  let best = -1
  probes.forEach((p, i) => {
    const b = probes[best]
    if (p.ok && (b === undefined || !b.ok || p.rttMs < b.rttMs)) best = i
  })
  const winner = probes[best]
  if (winner === undefined || !winner.ok) {
    const first = probes[0] as TlsProbe & { ok: false }
    return { result: { tested: true, reachable: false, rttMs: null, url: urls[0]!, proxy: first.proxy, error: first.error }, skewMs: null }
  }
  const skewMs = winner.supernodeTimeMs === null ? null : clockSkewMs(winner.sentAtMs, winner.receivedAtMs, winner.supernodeTimeMs)
  return { result: { tested: true, reachable: true, rttMs: round(winner.rttMs), url: urls[best]!, proxy: winner.proxy }, skewMs }
}

function unmapped(address: string): string {
  return address.replace(/^::ffff:/, '')
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10
}
