// The assistance service's state on disk, written atomically (temp file, fsync, rename, fsync of
// the directory) so that a kill -9 at any moment leaves either the old state or the new one,
// never half of either. Mode 0600: it holds the session key.
import { randomBytes } from 'node:crypto'
import { open, readFile, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'

export const STATE_FILE = 'state.json'

export interface SessionState {
  community: string
  key: string
  /** ms since the epoch */
  since: number
  expiresAt: number
  adminAccess: boolean
  adminPassword: string | null
  overlayIp: string
  /** the device's TAP MAC: the same across restarts, so technicians' ARP caches stay right */
  deviceMac: string
  token: string
}

export interface PersistedState {
  version: 1
  session: SessionState | null
}

export type LoadResult = { ok: true; state: PersistedState } | { ok: false; reason: string }

/** Writes `data` to `path` so that readers see the old or the new content, whatever happens. */
export async function writeAtomically(path: string, data: string, mode = 0o600): Promise<void> {
  // random: two writes in one millisecond (state and audit head) must not share a temp file
  const temp = join(dirname(path), `.${randomBytes(8).toString('hex')}.tmp`)
  const file = await open(temp, 'w', mode)
  try {
    await file.writeFile(data)
    await file.sync()
  } finally {
    await file.close()
  }
  try {
    await rename(temp, path)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
  // the rename is durable only once the directory entry is
  const dir = await open(dirname(path), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}

export async function saveState(dir: string, state: PersistedState): Promise<void> {
  await writeAtomically(join(dir, STATE_FILE), JSON.stringify(state, null, 2) + '\n')
}

/** Reads the state; a missing file is "no session", anything unreadable or malformed is a reason. */
export async function loadState(dir: string): Promise<LoadResult> {
  let text: string
  try {
    text = await readFile(join(dir, STATE_FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, state: { version: 1, session: null } }
    return { ok: false, reason: `cannot read ${STATE_FILE}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { ok: false, reason: `${STATE_FILE} is not valid JSON` }
  }
  const state = json as Partial<PersistedState>
  if (typeof state !== 'object' || state === null || state.version !== 1) return { ok: false, reason: `${STATE_FILE} has an unknown format` }
  if (state.session === null || state.session === undefined) return { ok: true, state: { version: 1, session: null } }
  const s = state.session
  const valid =
    typeof s.community === 'string' &&
    typeof s.key === 'string' &&
    typeof s.token === 'string' &&
    typeof s.overlayIp === 'string' &&
    typeof s.deviceMac === 'string' &&
    /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(s.deviceMac) &&
    Number.isFinite(s.since) &&
    Number.isFinite(s.expiresAt) &&
    typeof s.adminAccess === 'boolean' &&
    (s.adminPassword === null || typeof s.adminPassword === 'string')
  if (!valid) return { ok: false, reason: `${STATE_FILE} has a damaged session` }
  return { ok: true, state: { version: 1, session: s } }
}
