// A receipt against the device's audit log: the log must still hold, as record `seq`, the very line
// whose hash the receipt carries, with an unbroken chain up to it. A device that rewrites its log
// afterwards (even re-chaining every later line and the head file, so that `overlan audit verify`
// passes) changes that line's hash, and so disagrees with every receipt a technician holds.
import { readFile } from 'node:fs/promises'
import { hashLine, type AuditRecord } from './audit-log.js'
import type { AuditHead } from './receipt.js'

const GENESIS = '0'.repeat(64)

export type AuditAgreement = { ok: true } | { ok: false; reason: string }

/** Reads the log at `path` and compares it with the receipt's head; never throws for a bad log (a reason). */
export async function checkAuditAgainstReceipt(path: string, head: AuditHead): Promise<AuditAgreement> {
  const lines = (await readFile(path, 'utf8')).split('\n').filter((line) => line.length > 0)
  if (head.seq === 0) return { ok: true }
  if (lines.length < head.seq) return { ok: false, reason: `the log has ${lines.length} records; the receipt's head is record ${head.seq} (records were removed)` }
  let prev = GENESIS
  for (let i = 0; i < head.seq; i++) {
    let record: AuditRecord
    try {
      record = JSON.parse(lines[i]!) as AuditRecord
    } catch {
      return { ok: false, reason: `record ${i + 1} is not a JSON record` }
    }
    if (record.prev !== prev || record.seq !== i + 1) return { ok: false, reason: `record ${i + 1} does not follow the one before it (the log was edited)` }
    prev = hashLine(lines[i]!)
  }
  if (prev !== head.hash) return { ok: false, reason: `record ${head.seq} hashes to ${prev}, the receipt says ${head.hash}: the log was rewritten after the receipt was signed` }
  return { ok: true }
}
