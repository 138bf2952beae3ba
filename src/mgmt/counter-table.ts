// One table of counters per program (edge, supernode): each entry names a field, its Prometheus
// metric and help text, and whether it only grows (counter) or goes up and down (gauge). The
// fields the hot path increments, the `counters` object of /status and the lines of /metrics are
// all made from that one table, so a counter cannot be added to one and forgotten in another.
import type { MetricsText } from './prometheus.js'

export interface CounterSpec {
  /** the Prometheus metric, or null for a figure shown in /status only */
  readonly metric: string | null
  readonly help: string
  readonly kind: 'counter' | 'gauge'
}

export type CounterTable<K extends string> = Readonly<Record<K, CounterSpec>>

/** Plain numbers by field name: what the data path increments (no Map, no closure per packet). */
export type CounterValues<K extends string> = Record<K, number>

/** Checks the table once at start-up: a metric name used twice would merge two figures. */
export function defineCounters<K extends string>(table: Record<K, CounterSpec>): CounterTable<K> {
  const seen = new Set<string>()
  for (const spec of Object.values<CounterSpec>(table)) {
    if (spec.metric === null) continue
    if (seen.has(spec.metric)) throw new Error(`counter table: metric ${spec.metric} is listed twice`)
    seen.add(spec.metric)
  }
  return table
}

/** A fresh set of fields, every one zero, in the table's order. */
export function newCounters<K extends string>(table: CounterTable<K>): CounterValues<K> {
  const values = {} as CounterValues<K>
  for (const key of Object.keys(table) as K[]) values[key] = 0
  return values
}

/** Appends one line per metric of the table, with its value from `values`. */
export function writeCounterMetrics<K extends string>(m: MetricsText, table: CounterTable<K>, values: CounterValues<K>): void {
  for (const key of Object.keys(table) as K[]) {
    const spec = table[key]
    if (spec.metric === null) continue
    if (spec.kind === 'counter') m.counter(spec.metric, spec.help, values[key])
    else m.gauge(spec.metric, spec.help, values[key])
  }
}
