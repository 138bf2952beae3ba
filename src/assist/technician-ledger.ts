// What the device counted of each admitted technician in a session, by request ID: when it first
// and last heard from it, and the frame bytes each way, from samples of the device edge's peers. A
// peer's counters start again from 0 when its peer entry is made anew (it left and came back, or
// the service restarted with a new edge): the ledger adds what was counted before, so a total never
// goes down. The service saves the totals with the session (state-file.ts), and a restarted
// service's ledger starts from them, so a receipt counts the whole session.
import type { TechnicianTraffic } from './technicians.js'

/** One admitted technician as the device's edge sees it now. */
export interface TechnicianSample {
  /** its request ID in the session's registry */
  id: string
  /** ms since it last sent traffic or a probe */
  lastSeenMs: number
  /** frame bytes received from it and sent to it by its current peer entry */
  rxBytes: number
  txBytes: number
}

interface Entry {
  firstSeen: number
  lastSeen: number
  /** what earlier peer entries (and earlier runs of the service) counted */
  rxBase: number
  txBase: number
  rx: number
  tx: number
}

export class TechnicianLedger {
  private readonly entries = new Map<string, Entry>()

  /** Starts from what an earlier run of the service counted, by request ID. */
  constructor(counted: Iterable<readonly [string, TechnicianTraffic]> = []) {
    for (const [id, c] of counted) this.entries.set(id, { firstSeen: c.firstSeen, lastSeen: c.lastSeen, rxBase: c.rxBytes, txBase: c.txBytes, rx: 0, tx: 0 })
  }

  /** Takes a sample of the technicians heard at `now`; true when a figure changed. */
  observe(now: number, samples: readonly TechnicianSample[]): boolean {
    let changed = false
    for (const s of samples) {
      const seen = now - Math.max(0, s.lastSeenMs)
      const entry = this.entries.get(s.id)
      if (entry === undefined) {
        this.entries.set(s.id, { firstSeen: seen, lastSeen: seen, rxBase: 0, txBase: 0, rx: s.rxBytes, tx: s.txBytes })
        changed = true
        continue
      }
      // a count that went down belongs to a new peer entry: the old one's total is kept
      if (s.rxBytes < entry.rx || s.txBytes < entry.tx) {
        entry.rxBase += entry.rx
        entry.txBase += entry.tx
      }
      if (s.rxBytes !== entry.rx || s.txBytes !== entry.tx || seen > entry.lastSeen) changed = true
      entry.rx = s.rxBytes
      entry.tx = s.txBytes
      entry.lastSeen = Math.max(entry.lastSeen, seen)
    }
    return changed
  }

  /** What was counted of one technician, or undefined when the device never heard from it. */
  get(id: string): TechnicianTraffic | undefined {
    const e = this.entries.get(id)
    return e === undefined ? undefined : { firstSeen: e.firstSeen, lastSeen: e.lastSeen, rxBytes: e.rxBase + e.rx, txBytes: e.txBase + e.tx }
  }

  /** Every technician heard, by request ID. */
  all(): Map<string, TechnicianTraffic> {
    return new Map([...this.entries.keys()].map((id) => [id, this.get(id)!]))
  }
}
