// The audit log: append-only JSON lines, each carrying the BLAKE2b-256 hash of
// the line before it, so that a removed, reordered or edited line breaks the chain and
// `overlan audit verify` finds it. The first line chains to 64 zeros.
import { appendFile, open, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import sodium from 'sodium-native'
import { writeAtomically } from './state-file.js'
import { auditLineWritten, type StepObserver } from './steps.js'

export const AUDIT_FILE = 'audit.log'
/** The last line's number and hash: a chain alone cannot show that its last lines were cut or edited. */
export const AUDIT_HEAD_FILE = 'audit.head'
const GENESIS = '0'.repeat(64)

export type AuditEvent =
  | 'enable'
  | 'enable-failed'
  | 'disable'
  | 'expire'
  | 'idle'
  | 'session-lost'
  | 'technician-request'
  | 'technician-admitted'
  | 'technician-denied'
  | 'technician-gone'
  | 'technician-disconnected'
  | 'technician-joined'
  | 'technician-left'
  | 'connection-test'
  | 'login-failed'
  | 'state-unreadable'
  | 'session-hook'

export interface AuditRecord {
  seq: number
  time: string
  event: AuditEvent
  /** what happened, event by event: durations, technician IDs and addresses, reasons */
  details: Record<string, unknown>
  /** hash of the previous line as written */
  prev: string
}

export function hashLine(line: string): string {
  const out = Buffer.alloc(32)
  sodium.crypto_generichash(out, Buffer.from(line))
  return out.toString('hex')
}

export class AuditLog {
  private prev = GENESIS
  private seq = 0
  /** appends go one after another, in call order */
  private tail: Promise<void> = Promise.resolve()

  private constructor(
    readonly path: string,
    private readonly onStep: StepObserver,
  ) {}

  /**
   * Opens the log in `dir`, continuing its chain (a broken chain is continued from its last line:
   * verify reports it). An append the process did not finish is finished first.
   */
  static async open(dir: string, options: { onStep?: StepObserver } = {}): Promise<AuditLog> {
    const log = new AuditLog(join(dir, AUDIT_FILE), options.onStep ?? (() => {}))
    const handle = await open(log.path, 'a', 0o600)
    await handle.close()
    const lines = (await readFile(log.path, 'utf8')).split('\n').filter((l) => l.length > 0)
    const last = lines.at(-1)
    if (last !== undefined) {
      log.prev = hashLine(last)
      try {
        log.seq = (JSON.parse(last) as AuditRecord).seq
      } catch {
        log.seq = lines.length
      }
      await completeInterruptedAppend(dir, lines)
    }
    return log
  }

  append(event: AuditEvent, details: Record<string, unknown>, now: number): Promise<AuditRecord> {
    const result = this.tail.then(async () => {
      const record: AuditRecord = { seq: this.seq + 1, time: new Date(now).toISOString(), event, details, prev: this.prev }
      const line = JSON.stringify(record)
      await appendFile(this.path, line + '\n', { mode: 0o600 })
      this.seq = record.seq
      this.prev = hashLine(line)
      await this.onStep(auditLineWritten(event))
      await writeHead(dirname(this.path), { seq: this.seq, hash: this.prev })
      return record
    })
    this.tail = result.then(
      () => undefined,
      () => undefined,
    )
    return result
  }

  /** The chain's head once pending appends are done: the last record's number and its line's hash (64 zeros before any). */
  async head(): Promise<{ seq: number; hash: string }> {
    await this.tail
    return { seq: this.seq, hash: this.prev }
  }

  async records(): Promise<AuditRecord[]> {
    await this.tail
    const text = await readFile(this.path, 'utf8')
    const out: AuditRecord[] = []
    for (const line of text.split('\n')) {
      if (line.length === 0) continue
      try {
        out.push(JSON.parse(line) as AuditRecord)
      } catch {
        // verify reports damaged lines; the API lists what it can read
      }
    }
    return out
  }
}

interface AuditHead {
  seq: number
  hash: string
}

function writeHead(dir: string, head: AuditHead): Promise<void> {
  return writeAtomically(join(dir, AUDIT_HEAD_FILE), JSON.stringify(head) + '\n')
}

async function readHead(dir: string): Promise<AuditHead | null> {
  try {
    return JSON.parse(await readFile(join(dir, AUDIT_HEAD_FILE), 'utf8')) as AuditHead
  } catch {
    // no head yet (an empty log, or a first append stopped before its head): nothing to compare
    return null
  }
}

/**
 * A process killed between appending a line and writing the head leaves the head one record
 * behind. When the head matches the line before the last, and the last follows it, the last line
 * is that unfinished append: the head is brought up to it. Anything else is left for verify to
 * report. (The head guards against cut lines; whoever can write the directory can rewrite it.)
 */
async function completeInterruptedAppend(dir: string, lines: string[]): Promise<void> {
  const head = await readHead(dir)
  const before = lines.length >= 2 ? hashLine(lines.at(-2)!) : GENESIS
  const headIsOneBehind = head === null ? lines.length === 1 : head.seq === lines.length - 1 && head.hash === before
  if (!headIsOneBehind) return
  let last: AuditRecord
  try {
    last = JSON.parse(lines.at(-1)!) as AuditRecord
  } catch {
    return
  }
  if (last.seq !== lines.length || last.prev !== before) return
  await writeHead(dir, { seq: lines.length, hash: hashLine(lines.at(-1)!) })
}

export type VerifyResult = { ok: true; records: number } | { ok: false; line: number; problem: string }

/** Checks every line's hash link and sequence number; names the first line where the chain breaks. */
export async function verifyAuditLog(path: string): Promise<VerifyResult> {
  const lines = (await readFile(path, 'utf8')).split('\n')
  if (lines.at(-1) === '') lines.pop()
  let prev = GENESIS
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    let record: AuditRecord
    try {
      record = JSON.parse(line) as AuditRecord
    } catch {
      return { ok: false, line: i + 1, problem: 'not a JSON record' }
    }
    if (record.prev !== prev) return { ok: false, line: i + 1, problem: i === 0 ? 'the first record does not start the chain (lines removed before it?)' : 'does not follow the line before it (a line was removed, inserted or edited)' }
    if (record.seq !== i + 1) return { ok: false, line: i + 1, problem: `sequence ${record.seq} where ${i + 1} was expected` }
    prev = hashLine(line)
  }
  const head = await readHead(dirname(path))
  if (head !== null && head.seq === lines.length - 1) {
    return { ok: false, line: lines.length, problem: `record ${lines.length} is past the head: an append the service did not finish (its next start completes it) or a line added since` }
  }
  if (head !== null && head.seq !== lines.length) {
    return { ok: false, line: Math.min(head.seq, lines.length), problem: `the log ends at record ${lines.length} but ${head.seq} were written (its last lines were removed or edited)` }
  }
  if (head !== null && head.hash !== prev) return { ok: false, line: lines.length, problem: 'the last record was edited (it is not the one written)' }
  return { ok: true, records: lines.length }
}
