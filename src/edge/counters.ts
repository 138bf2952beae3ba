// The edge's counters and everything its /metrics exports. The fields the data path increments,
// /status `counters` and the counter lines of /metrics are all made from EDGE_COUNTERS; the drop
// reasons are reasons.ts's table; the gauges are computed from the edge's tables when asked.
import { defineCounters, newCounters, writeCounterMetrics, type CounterValues } from '../mgmt/counter-table.js'
import { MetricsText } from '../mgmt/prometheus.js'

export const EDGE_COUNTERS = defineCounters({
  tapFramesIn: { metric: 'overlan_edge_tap_frames_in_total', help: 'Frames read from the TAP device', kind: 'counter' },
  tapFramesOut: { metric: 'overlan_edge_tap_frames_out_total', help: 'Frames written to the TAP device', kind: 'counter' },
  packetsIn: { metric: 'overlan_edge_packets_in_total', help: 'Datagrams received', kind: 'counter' },
  bytesIn: { metric: 'overlan_edge_bytes_in_total', help: 'Bytes received', kind: 'counter' },
  relayedOut: { metric: 'overlan_edge_relayed_out_total', help: 'Frames sent through the supernode', kind: 'counter' },
  directOut: { metric: 'overlan_edge_direct_out_total', help: 'Frames sent straight to a peer', kind: 'counter' },
  peerQueries: { metric: 'overlan_edge_peer_queries_total', help: 'Peer queries sent', kind: 'counter' },
  probesSent: { metric: 'overlan_edge_probes_sent_total', help: 'Hole-punching and keepalive probes sent', kind: 'counter' },
  birthdaySessions: { metric: null, help: 'Birthday-punching sessions started', kind: 'counter' },
  birthdaySockets: { metric: null, help: 'Birthday-punching sockets open now', kind: 'gauge' },
  candidatesOverLimit: { metric: 'overlan_edge_candidates_over_limit_total', help: 'Peer endpoints not probed: the peer already had as many candidates as it may', kind: 'counter' },
  candidatesOffLan: { metric: 'overlan_edge_candidates_off_lan_total', help: "Peer LAN endpoints not probed: outside every subnet of this host's own", kind: 'counter' },
  pendingBytes: { metric: 'overlan_edge_pending_bytes', help: 'Bytes of frames held for peers whose pair session is not ready', kind: 'gauge' },
  fallbackConnects: { metric: 'overlan_edge_fallback_connects_total', help: 'Fallback WebSocket connections opened to supernodes', kind: 'counter' },
  fallbackFailures: { metric: 'overlan_edge_fallback_failures_total', help: 'Fallback connections that could not be opened (DNS, TCP, proxy, TLS, upgrade, timeout)', kind: 'counter' },
  fallbackCloses: { metric: 'overlan_edge_fallback_closes_total', help: 'Fallback connections closed (by either side, or back on UDP)', kind: 'counter' },
  fallbackSwitches: { metric: 'overlan_edge_fallback_switches_total', help: 'Registrations made over the fallback because UDP did not answer (at start, or after UDP was lost)', kind: 'counter' },
  udpReturns: { metric: 'overlan_edge_udp_returns_total', help: 'Registrations moved from the fallback back to UDP', kind: 'counter' },
  peersEvicted: { metric: 'overlan_edge_peers_evicted_total', help: 'Peers removed from a full table to make room (those without a ready session first)', kind: 'counter' },
  peersExpired: { metric: 'overlan_edge_peers_expired_total', help: 'Peers whose session ended because their certificate passed its notAfter', kind: 'counter' },
  peersRevoked: { metric: 'overlan_edge_peers_revoked_total', help: 'Peers whose session ended because their certificate was revoked', kind: 'counter' },
  broadcastKeyRotations: { metric: 'overlan_edge_broadcast_key_rotations_total', help: 'New broadcast keys made (every 120 s, and when a peer leaves)', kind: 'counter' },
})

export type EdgeCounterName = keyof typeof EDGE_COUNTERS
export type EdgeCounters = CounterValues<EdgeCounterName>

export function edgeCounters(): EdgeCounters {
  return newCounters(EDGE_COUNTERS)
}

/** What the edge's tables say now, for the gauges of /metrics. */
export interface EdgeGauges {
  supernodesRegistered: number
  peersDirect: number
  peersOther: number
}

/** The whole of the edge's /metrics (Prometheus text). */
/** `drops`: the edge's reasons (reasons.ts) and its pair sessions' (session-table.ts). */
export function edgeMetrics(counters: EdgeCounters, drops: Record<string, number>, gauges: EdgeGauges): string {
  const m = new MetricsText()
  m.gauge('overlan_edge_supernodes_registered', 'Supernodes this edge is registered with', gauges.supernodesRegistered)
  m.gauge('overlan_edge_peers', 'Peers by path', gauges.peersDirect, { path: 'direct' })
  m.gauge('overlan_edge_peers', 'Peers by path', gauges.peersOther, { path: 'relay' })
  writeCounterMetrics(m, EDGE_COUNTERS, counters)
  m.counters('overlan_edge_dropped_total', 'Packets and frames dropped, by reason', 'reason', drops)
  return m.toString()
}
