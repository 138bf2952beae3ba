// `overlan edge --revocations FILE`: the armored revocations an authority's operator hands an edge
// (`overlan ca revoke` keeps them all in DIR/revocations), one per line. The file is read at the
// start (a bad one stops the edge with one line naming it) and again whenever it changes, looked at
// every REVOCATIONS_CHECK_MS; a bad file later is reported and the revocations read before stay.
import { readFileSync, statSync } from 'node:fs'
import { unarmor } from '../crypto/armor.js'
import type { Clock, TimerHandle } from '../time/clock.js'
import { decodeRevocation } from '../wire/revocation.js'
import { CliError } from './errors.js'

/** How soon a changed file is read: a revocation reaches the supernodes within this and a round trip. */
export const REVOCATIONS_CHECK_MS = 1_000
/** MAX_REVOCATIONS (4096) lines of ~200 bytes, and room to spare: more is not a revocations file. */
const MAX_FILE_BYTES = 2 * 1024 * 1024

/** The revocations in `path` (blank lines and # comments skipped); throws CliError (one line, with the line number). */
export function readRevocationsFile(path: string): Buffer[] {
  let text: Buffer
  try {
    if (statSync(path).size > MAX_FILE_BYTES) throw new CliError(`--revocations: ${path} is larger than ${MAX_FILE_BYTES} bytes: not a revocations file`)
    text = readFileSync(path)
  } catch (err) {
    if (err instanceof CliError) throw err
    throw new CliError(`--revocations: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  const revocations: Buffer[] = []
  let lineNumber = 0
  for (const line of text.toString('latin1').split('\n')) {
    lineNumber++
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    const result = unarmor('revocation', Buffer.from(trimmed, 'latin1'))
    if (!result.ok) throw new CliError(`--revocations: ${path} line ${lineNumber}: ${result.problem}`)
    // whose authority signed it is the edge's to check (Credentials); that it is a revocation at all, the file's
    const decoded = decodeRevocation(result.bytes)
    if (!decoded.ok) throw new CliError(`--revocations: ${path} line ${lineNumber}: not a valid revocation (${decoded.reason})`)
    revocations.push(result.bytes)
  }
  return revocations
}

/** Calls `changed` with the file's revocations whenever its size, time or inode changes; `problem` when it cannot be read. */
export function watchRevocationsFile(path: string, clock: Clock, changed: (revocations: Buffer[]) => void, problem: (message: string) => void): TimerHandle {
  let seen = signature(path)
  let reported: string | null = null
  return clock.every(REVOCATIONS_CHECK_MS, () => {
    const now = signature(path)
    if (now === seen) return
    try {
      const revocations = readRevocationsFile(path)
      seen = now
      reported = null
      changed(revocations)
    } catch (err) {
      // once per bad version of the file, not every second
      const message = `${(err as Error).message}; keeping the revocations read before`
      if (message !== reported) problem(message)
      reported = message
    }
  })
}

/** What tells a changed file apart: a replacement (rename) changes the inode, an edit the size or time. */
function signature(path: string): string {
  try {
    const s = statSync(path)
    return `${s.ino}:${s.size}:${s.mtimeMs}`
  } catch (err) {
    return `missing:${(err as NodeJS.ErrnoException).code ?? ''}`
  }
}
