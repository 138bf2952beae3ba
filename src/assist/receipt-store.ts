// Receipts on the device: one file per session in the state directory's receipts/ (0700; each file
// 0600, written atomically), listed for GET /api/receipts oldest first, each with whether it still
// verifies. The files are exactly what `overlan receipt verify` checks.
import { access, chmod, mkdir, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { verifyReceipt } from './receipt.js'
import { writeAtomically } from './state-file.js'

export const RECEIPTS_DIR = 'receipts'

/** A stored receipt as the API lists it: the file's name and JSON, and whether it verifies now. */
export interface ListedReceipt {
  file: string
  /** the receipt's fields as signed (null when the file is no longer JSON) */
  receipt: Record<string, unknown> | null
  signatureGood: boolean
  /** why it does not verify, when it does not */
  problem?: string
}

/** The file name of a session's receipt: its ID with anything but [A-Za-z0-9._-] replaced. */
export function receiptFileName(sessionId: string): string {
  return `${sessionId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`
}

/** Whether the session's receipt is stored already. */
export async function receiptExists(stateDir: string, sessionId: string): Promise<boolean> {
  try {
    await access(join(stateDir, RECEIPTS_DIR, receiptFileName(sessionId)))
    return true
  } catch {
    return false
  }
}

/** Stores a receipt's text; returns its path. */
export async function storeReceipt(stateDir: string, sessionId: string, text: string): Promise<string> {
  const dir = join(stateDir, RECEIPTS_DIR)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  // mkdir's mode yields to the umask and leaves an existing directory as it was
  await chmod(dir, 0o700)
  const path = join(dir, receiptFileName(sessionId))
  await writeAtomically(path, text)
  return path
}

/** Every receipt in the state directory, by the end of its session, newest last (unreadable ones first). */
export async function listReceipts(stateDir: string): Promise<ListedReceipt[]> {
  const dir = join(stateDir, RECEIPTS_DIR)
  let names: string[]
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith('.json'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const listed: { end: number; entry: ListedReceipt }[] = []
  for (const file of names) {
    const text = await readFile(join(dir, file), 'utf8')
    const check = verifyReceipt(text)
    let receipt: Record<string, unknown> | null = null
    try {
      receipt = JSON.parse(text) as Record<string, unknown>
    } catch {
      // listed as it is: the problem says why
    }
    const end = check.ok ? check.receipt.end : -1
    listed.push({ end, entry: { file, receipt, signatureGood: check.ok, ...(check.ok ? {} : { problem: check.reason }) } })
  }
  return listed.sort((a, b) => a.end - b.end || a.entry.file.localeCompare(b.entry.file)).map((l) => l.entry)
}

export type SavedReceipt = { ok: true; path: string; sessionId: string } | { ok: false; reason: string }

/**
 * A technician's copy: `text` as a peer handed it over, saved in `dir` (0600) when it is a receipt
 * signed by `senderKey`, the key of the peer that sent it (the device). Never overwrites another
 * receipt: a second one for the same session gets a numbered name.
 */
export async function saveDeliveredReceipt(dir: string, text: Buffer, senderKey: Buffer): Promise<SavedReceipt> {
  const check = verifyReceipt(text.toString('utf8'))
  if (!check.ok) return { ok: false, reason: check.reason }
  if (!check.receipt.deviceKey.equals(senderKey)) return { ok: false, reason: 'signed by another key than the sending peer\'s' }
  const base = `overlan-receipt-${receiptFileName(check.receipt.sessionId).slice(0, -'.json'.length)}`
  for (let n = 1; n <= 100; n++) {
    const path = join(dir, n === 1 ? `${base}.json` : `${base}.${n}.json`)
    const existing = await readFile(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null
      throw err
    })
    if (existing !== null && !existing.equals(text)) continue
    if (existing === null) await writeAtomically(path, text.toString('utf8'))
    return { ok: true, path, sessionId: check.receipt.sessionId }
  }
  return { ok: false, reason: `${dir} holds 100 receipts of session ${check.receipt.sessionId} already` }
}
