// Who was connected during a session, for its receipt: each technician (by key fingerprint) with its
// name, first and last seen, and the bytes each way, from samples of the device edge's peers. A
// peer's counters start again from 0 when its peer entry is made anew (it left and came back): the
// ledger adds what the old entry had counted, so a total never goes down.
import { MAX_RECEIPT_TECHNICIANS, type ReceiptTechnician } from './receipt.js'

/** One technician as the device's edge sees it now (EdgeStatus peers, or the service's technicians()). */
export interface TechnicianSample {
  name: string
  fingerprint: string
  /** ms since it last sent traffic or a probe */
  lastSeenMs: number
  /** frame bytes received from it and sent to it by its current peer entry */
  rxBytes: number
  txBytes: number
}

interface Entry {
  name: string
  firstSeen: number
  lastSeen: number
  /** what earlier peer entries counted */
  rxBase: number
  txBase: number
  rx: number
  tx: number
}

export class TechnicianLedger {
  private readonly entries = new Map<string, Entry>()

  /** Takes a sample of who is there at `now`. */
  observe(now: number, samples: readonly TechnicianSample[]): void {
    for (const s of samples) {
      const seen = now - Math.max(0, s.lastSeenMs)
      const entry = this.entries.get(s.fingerprint)
      if (entry === undefined) {
        this.entries.set(s.fingerprint, { name: s.name, firstSeen: seen, lastSeen: seen, rxBase: 0, txBase: 0, rx: s.rxBytes, tx: s.txBytes })
        continue
      }
      // a count that went down belongs to a new peer entry: the old one's total is kept
      if (s.rxBytes < entry.rx || s.txBytes < entry.tx) {
        entry.rxBase += entry.rx
        entry.txBase += entry.tx
      }
      entry.rx = s.rxBytes
      entry.tx = s.txBytes
      entry.name = s.name
      entry.lastSeen = Math.max(entry.lastSeen, seen)
    }
  }

  /** The receipt's list, first seen first: at most MAX_RECEIPT_TECHNICIANS named, the rest counted. */
  technicians(): { listed: ReceiptTechnician[]; more: number } {
    const all = [...this.entries].map(([fingerprint, e]) => ({
      name: e.name,
      fingerprint,
      firstSeen: e.firstSeen,
      lastSeen: e.lastSeen,
      bytesFromTechnician: e.rxBase + e.rx,
      bytesToTechnician: e.txBase + e.tx,
    }))
    all.sort((a, b) => a.firstSeen - b.firstSeen || a.fingerprint.localeCompare(b.fingerprint))
    return { listed: all.slice(0, MAX_RECEIPT_TECHNICIANS), more: Math.max(0, all.length - MAX_RECEIPT_TECHNICIANS) }
  }
}
