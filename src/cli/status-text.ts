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
  if (status.expiresAt !== null) lines.push(`session ends ${status.expiresAt} (${untilText(Date.parse(status.expiresAt) - now)})`)

  lines.push('', 'supernodes')
  if (status.supernodes.length === 0) lines.push('  none')
  else
    lines.push(
      ...table(
        ['SUPERNODE', 'STATE', 'TRANSPORT', 'RTT'],
        status.supernodes.map((s) => [s.address, s.registered ? 'registered' : 'not registered', transportOf(s), msText(s.rttMs)]),
      ),
    )

  lines.push('', `peers (${status.peers.length})`)
  if (status.peers.length === 0) lines.push('  none yet: no other member has sent anything')
  else
    lines.push(
      ...table(
        ['PEER', 'OVERLAY IP', 'PATH', 'RTT', 'RX', 'TX', 'LAST SEEN'],
        status.peers.map((p) => [p.name || p.id, p.ip ?? '-', pathText(p), msText(p.rttMs), bytesText(p.rxBytes), bytesText(p.txBytes), agoText(p.lastSeenMs)]),
      ),
    )
  return lines
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
