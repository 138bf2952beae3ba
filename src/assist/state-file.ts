// The assistance service's state on disk, written atomically (temp file, fsync, rename, fsync of
// the directory) so that a kill -9 at any moment leaves either the old state or the new one,
// never half of either. Mode 0600: it holds the session key and the device edge's identity key.
//
// Format 2 (overlan 0.2, protocol v2) adds that identity key. A format-1 file (overlan 0.1) is
// migrated when read: its session goes on (technicians' join tokens carry the same shared secret)
// with a new device identity, and loadState says so in one line for the log.
import { randomBytes } from 'node:crypto'
import { open, readFile, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'

export const STATE_FILE = 'state.json'
export const STATE_VERSION = 2
/** The format overlan 0.1 wrote: no device identity. */
const OLD_STATE_VERSION = 1
const IDENTITY_SEED_BYTES = 32

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
  /** the device edge's identity key (its 32-byte seed, base64): a restarted device edge is the same member and takes its place at once */
  deviceIdentity: string
}

export interface PersistedState {
  version: typeof STATE_VERSION
  session: SessionState | null
}

/** `migrated`: a one-line note for the log when the file was of an older format. */
export type LoadResult = { ok: true; state: PersistedState; migrated?: string } | { ok: false; reason: string }

/** A fresh identity key for the device edge of a session, as the state file holds it. */
export function newDeviceIdentity(): string {
  return randomBytes(IDENTITY_SEED_BYTES).toString('base64')
}

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
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, state: { version: STATE_VERSION, session: null } }
    return { ok: false, reason: `cannot read ${STATE_FILE}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { ok: false, reason: `${STATE_FILE} is not valid JSON` }
  }
  const state = json as { version?: unknown; session?: Partial<SessionState> | null }
  if (typeof state !== 'object' || state === null || (state.version !== STATE_VERSION && state.version !== OLD_STATE_VERSION)) {
    const newer = typeof state?.version === 'number' && state.version > STATE_VERSION
    return { ok: false, reason: newer ? `${STATE_FILE} was written by a newer overlan (format ${String(state.version)}): upgrade overlan, or remove it to start disabled` : `${STATE_FILE} has an unknown format` }
  }
  if (state.session === null || state.session === undefined) return { ok: true, state: { version: STATE_VERSION, session: null } }
  const s = state.session
  let migrated: string | undefined
  if (state.version === OLD_STATE_VERSION) {
    s.deviceIdentity = newDeviceIdentity()
    migrated = `${STATE_FILE} is from overlan 0.1 (format 1): its session goes on with a new device identity; technicians join with the same token, using overlan 0.2 or later`
  }
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
    (s.adminPassword === null || typeof s.adminPassword === 'string') &&
    typeof s.deviceIdentity === 'string' &&
    Buffer.from(s.deviceIdentity, 'base64').length === IDENTITY_SEED_BYTES
  if (!valid) return { ok: false, reason: `${STATE_FILE} has a damaged session` }
  return { ok: true, state: { version: STATE_VERSION, session: s as SessionState }, ...(migrated !== undefined ? { migrated } : {}) }
}
