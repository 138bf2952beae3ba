// `overlan status` as text: turns an edge's /status into aligned lines a non-expert can read, and
// tells an edge's status apart from any other answer. Pure: the command does the HTTP.
import type { EdgeStatus } from '../edge/edge.js'

type Peer = EdgeStatus['peers'][number]
type PathState = Peer['path']

/** What a relayed path is doing besides relaying, in words (path.ts has the states). */
const RELAY_NOTES: Partial<Record<PathState, string>> = {
  punching: ' (trying direct)',
  // a suspect path's frames take the relay at once while probes check the direct endpoint
  suspect: ' (direct went quiet, checking)',
}

/** An edge from before the fallback has no `transport` in /status: every link was UDP then. */
const DEFAULT_TRANSPORT = 'udp'
/**
 * A supernode's clock this far from ours is worth a word: a certificate's notBefore is accepted
 * CLOCK_SKEW_SECONDS (60 s) early, and expiry is judged by the supernode's clock, not ours.
 */
export const SKEW_WARNING_MS = 30_000

/** Whether `value` has the shape `overlan status` prints: an edge's /status, not a supernode's or another service's. */
export function isEdgeStatus(value: unknown): value is EdgeStatus {
  if (!isRecord(value)) return false
  if (typeof value.edgeId !== 'string' || !Array.isArray(value.supernodes) || !Array.isArray(value.peers)) return false
  const supernodesOk = value.supernodes.every((s) => isRecord(s) && typeof s.address === 'string' && typeof s.registered === 'boolean')
  const peersOk = value.peers.every(
    (p) => isRecord(p) && typeof p.id === 'string' && typeof p.path === 'string' && typeof p.lastSeenMs === 'number' && typeof p.rxBytes === 'number' && typeof p.txBytes === 'number',
  )
  return supernodesOk && peersOk
}

/** A supernode's /status (it lists edges): worth naming when someone points --mgmt at one. */
export function isSupernodeStatus(value: unknown): boolean {
  return isRecord(value) && Array.isArray(value.edges) && value.edgeId === undefined
}

/** The lines of `overlan status` for one edge; `now` (ms since epoch) dates the expiry. */
export function statusLines(status: EdgeStatus, now: number): string[] {
  const lines: string[] = []
  const who = status.name ? `${status.name} (${status.edgeId})` : status.edgeId
  const where = status.ip ?? 'no overlay address yet'
  // a Linux edge's /status puts its TAP counters under `tap` (src/edge/linux-edge.ts), without the name
  const device = typeof status.tap === 'string' ? ` on ${status.tap}` : ''
  lines.push(`edge ${who}, ${where}${device}${status.relayOnly ? ', relay only' : ''}`)
  const certificate = certificateLine(status, now)
  if (certificate !== null) lines.push(certificate)
  if (status.expiresAt !== null) lines.push(`session ends ${status.expiresAt} (${untilText(Date.parse(status.expiresAt) - now)})`)

  lines.push('', 'supernodes')
  if (status.supernodes.length === 0) lines.push('  none')
  else
    lines.push(
      ...table(
        ['SUPERNODE', 'STATE', 'TRANSPORT', 'RTT', 'CLOCK SKEW'],
        status.supernodes.map((s) => [s.address, s.registered ? 'registered' : 'not registered', transportOf(s), msText(s.rttMs), skewText(s)]),
      ),
    )
  const skewed = status.supernodes.filter((s) => typeof s.clockSkewMs === 'number' && Math.abs(s.clockSkewMs) >= SKEW_WARNING_MS)
  for (const s of skewed) lines.push(`  ${s.address}'s clock is ${durationText(Math.abs(s.clockSkewMs!))} ${s.clockSkewMs! > 0 ? 'ahead of' : 'behind'} this host's: certificates are judged by its clock; check NTP on both`)

  lines.push('', `peers (${status.peers.length})`)
  if (status.peers.length === 0) lines.push('  none yet: no other member has sent anything')
  else
    lines.push(
      ...table(
        ['PEER', 'OVERLAY IP', 'PATH', 'RTT', 'RX', 'TX', 'LAST SEEN'],
        status.peers.map((p) => [p.name || p.id, p.ip ?? '-', pathText(p), msText(p.rttMs), bytesText(p.rxBytes), bytesText(p.txBytes), agoText(p.lastSeenMs)]),
      ),
    )
  lines.push(...streamLines(status))
  return lines
}

/**
 * Userspace streams (issue 16), grouped by peer: who, which port, who opened it, bytes each way.
 * Left out for an edge that never carried or refused one (most TAP edges) and for an older edge
 * whose /status has no `streams`.
 */
function streamLines(status: EdgeStatus): string[] {
  const streams = status.streams
  if (streams === undefined || !Array.isArray(streams.active)) return []
  const refused = Object.values(streams.counters.refused).reduce((sum, n) => sum + n, 0)
  if (streams.active.length === 0 && streams.counters.opened === 0 && refused === 0) return []
  const names = new Map(status.peers.map((p) => [p.id, p.name || p.id]))
  const open = [...streams.active].sort((a, b) => (names.get(a.peer) ?? a.peer).localeCompare(names.get(b.peer) ?? b.peer) || a.id - b.id)
  const lines = ['', `streams (${open.length} open; ${streams.counters.closed} closed, ${refused} refused since start)`]
  if (open.length === 0) return [...lines, '  none open']
  const rows = open.map((s) => [names.get(s.peer) ?? s.peer, String(s.id), s.direction === 'in' ? 'the peer' : 'this edge', String(s.port), bytesText(s.bytesFromPeer), bytesText(s.bytesToPeer), durationText(s.ageMs)])
  return [...lines, ...table(['PEER', 'STREAM', 'OPENED BY', 'PORT', 'RECEIVED', 'SENT', 'OPEN FOR'], rows)]
}

/** "certificate "anna" (technician) 3kq...: valid until 2026-06-01T18:00:00.000Z (in 7 h 59 min)", self-issued or not. */
function certificateLine(status: EdgeStatus, now: number): string | null {
  // an edge of overlan 0.1 has no certificate in its /status
  const c = (status as { certificate?: unknown }).certificate
  if (!isRecord(c) || typeof c.fingerprint !== 'string' || typeof c.notAfter !== 'string') return null
  const name = typeof c.name === 'string' && c.name !== '' ? `${JSON.stringify(c.name)} ` : ''
  const role = typeof c.role === 'string' ? `(${c.role}${c.selfIssued === true ? ', self-issued' : ''}) ` : ''
  return `certificate ${name}${role}${c.fingerprint}, valid until ${c.notAfter} (${untilText(Date.parse(c.notAfter) - now)})`
}

/** "+120 ms", "-2.5 s": the supernode's clock minus ours; "-" before a registration or from an older edge. */
function skewText(supernode: EdgeStatus['supernodes'][number]): string {
  const skew = (supernode as { clockSkewMs?: unknown }).clockSkewMs
  if (typeof skew !== 'number') return '-'
  const sign = skew > 0 ? '+' : skew < 0 ? '-' : ''
  const size = Math.abs(skew)
  return size < 1000 ? `${sign}${Math.round(size)} ms` : `${sign}${durationText(size)}`
}

/** "udp 7654", "tls 443": how the supernode is reached now, and on which port. */
function transportOf(supernode: EdgeStatus['supernodes'][number]): string {
  const { transport, port } = supernode as { transport?: unknown; port?: unknown }
  const name = typeof transport === 'string' ? transport : DEFAULT_TRANSPORT
  return typeof port === 'number' ? `${name} ${port}` : name
}

function pathText(peer: Peer): string {
  if (peer.path === 'direct') return peer.endpoint ? `direct to ${peer.endpoint}` : 'direct'
  if (peer.path === 'relay' || peer.path in RELAY_NOTES) return `relay via ${relayText(peer)}${RELAY_NOTES[peer.path] ?? ''}`
  return peer.path
}

/** "sn.example:7654 over tls" when the edge says which supernode relays and how; "supernode" otherwise. */
function relayText(peer: Peer): string {
  const { relay, via } = peer as { relay?: unknown; via?: unknown }
  if (typeof relay !== 'string') return 'supernode'
  return typeof via === 'string' ? `${relay} over ${via}` : relay
}

/** Left-aligned columns, two spaces apart, indented under their heading. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  return [header, ...rows].map((cells) => ('  ' + cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')).trimEnd())
}

function msText(ms: number | null): string {
  if (ms === null) return '-'
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`
}

const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB']

function bytesText(bytes: number): string {
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < BYTE_UNITS.length - 1) {
    value /= 1000
    unit++
  }
  return unit === 0 ? `${value} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${BYTE_UNITS[unit]}`
}

function agoText(ms: number): string {
  return `${durationText(ms)} ago`
}

function untilText(ms: number): string {
  return ms <= 0 ? 'already past' : `in ${durationText(ms)}`
}

/** A rough duration: "800 ms", "12 s", "5 min", "3 h 20 min". */
function durationText(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`
  const s = Math.floor(ms / 1000)
  if (s < 120) return `${s} s`
  const min = Math.floor(s / 60)
  if (min < 120) return `${min} min`
  return `${Math.floor(min / 60)} h ${min % 60} min`
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
