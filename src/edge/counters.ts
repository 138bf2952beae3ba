// The edge's counters and everything its /metrics exports. The fields the data path increments,
// /status `counters` and the counter lines of /metrics are all made from EDGE_COUNTERS; the drop
// reasons are reasons.ts's table; the gauges are computed from the edge's tables when asked.
import { defineCounters, newCounters, writeCounterMetrics, type CounterValues } from '../mgmt/counter-table.js'
import { MetricsText } from '../mgmt/prometheus.js'
import type { EdgeReason } from './reasons.js'

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
export function edgeMetrics(counters: EdgeCounters, drops: Record<EdgeReason, number>, gauges: EdgeGauges): string {
  const m = new MetricsText()
  m.gauge('overlan_edge_supernodes_registered', 'Supernodes this edge is registered with', gauges.supernodesRegistered)
  m.gauge('overlan_edge_peers', 'Peers by path', gauges.peersDirect, { path: 'direct' })
  m.gauge('overlan_edge_peers', 'Peers by path', gauges.peersOther, { path: 'relay' })
  writeCounterMetrics(m, EDGE_COUNTERS, counters)
  m.counters('overlan_edge_dropped_total', 'Packets and frames dropped, by reason', 'reason', drops)
  return m.toString()
}
