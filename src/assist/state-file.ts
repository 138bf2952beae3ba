// The assistance service's state on disk, written atomically (temp file, fsync, rename, fsync of
// the directory) so that a kill -9 at any moment leaves either the old state or the new one,
// never half of either. Mode 0600: it holds the session authority's key, the enrollment secret and
// the device's identity key.
//
// Format 3 (consent, issue 13): the device's identity key is the device's own, kept across sessions
// (receipts are signed with it, join tokens carry its public key); a session is an authority's
// community: its key, the device's certificate, and each technician's request, certificate and
// revocation. A format-1 or format-2 file (overlan 0.1/0.2: a shared-key session) is read without
// its session, which cannot go on under consent (its technicians hold the community key): loadState
// says so in one line, and the service records the session as lost.
//
// Format 4: what a restart must not forget of a running session's traffic: when a technician last
// sent a frame (the idle countdown runs from it, so a restarted service ends an idle session when
// the stopped one would have) and, per admitted technician, when it was admitted and what the
// device counted of it (first and last seen, bytes each way), so its receipt covers the whole
// session. A format-3 file is read as format 4 with these unknown: the idle countdown starts again
// at the restart (as format 3 did), and counting starts from zero.
import { randomBytes } from 'node:crypto'
import { open, readFile, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { TECHNICIAN_STATES, type Consent, type TechnicianRecord } from './technicians.js'

export const STATE_FILE = 'state.json'
export const STATE_VERSION = 4
/** Consent without traffic figures (overlan 0.3): read, its figures unknown. */
const NO_TRAFFIC_VERSION = 3
/** The formats of overlan 0.1 (no device identity) and 0.2 (a per-session device identity): shared-key sessions. */
const SHARED_KEY_VERSIONS: readonly unknown[] = [1, 2]
const SEED_BYTES = 32

export interface SessionState {
  /** the community ID (hex, from the authority's key): what the audit log names the session by */
  community: string
  /** ms since the epoch */
  since: number
  expiresAt: number
  adminAccess: boolean
  adminPassword: string | null
  overlayIp: string
  /** the device's TAP MAC: the same across restarts, so technicians' ARP caches stay right */
  deviceMac: string
  token: string
  /** the session authority's seed (base64, 32 bytes) */
  authority: string
  /** the enrollment secret in the token (base64, 32 bytes): the Noise PSK of requests */
  enrollmentSecret: string
  /** the device's certificate (base64) */
  deviceCertificate: string
  consent: Consent
  maxTechnicians: number
  /** 0: no idle timeout */
  idleMinutes: number
  /**
   * ms since the epoch: the idle countdown's start, the switch-on and then each technician frame
   * (saved every TRAFFIC_SAVE_MS at most, and at a shutdown); null: unknown (a format-3 session),
   * counted from the service's start
   */
  lastTraffic: number | null
  /** the session's --allow rules as given, or null (everything addressed to the device) */
  allow: string | null
  /** certificates issued so far (the device's is serial 1): the next serial is this plus one */
  issued: number
  technicians: TechnicianRecord[]
}

export interface PersistedState {
  version: typeof STATE_VERSION
  /** the device's identity key (its 32-byte seed, base64), kept across sessions */
  deviceIdentity: string
  session: SessionState | null
}

/** `migrated`: a one-line note for the log when the file was of an older format; `droppedSession`: it held a session that cannot go on. */
export type LoadResult = { ok: true; state: PersistedState; migrated?: string; droppedSession?: boolean } | { ok: false; reason: string }

/** A fresh identity key for the device, as the state file holds it. */
export function newDeviceIdentity(): string {
  return randomBytes(SEED_BYTES).toString('base64')
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

/** Reads the state; a missing file is "no session" (and a new device identity), anything unreadable or malformed is a reason. */
export async function loadState(dir: string): Promise<LoadResult> {
  let text: string
  try {
    text = await readFile(join(dir, STATE_FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, state: emptyState(newDeviceIdentity()) }
    return { ok: false, reason: `cannot read ${STATE_FILE}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { ok: false, reason: `${STATE_FILE} is not valid JSON` }
  }
  const state = json as { version?: unknown; deviceIdentity?: unknown; session?: Record<string, unknown> | null }
  if (typeof state !== 'object' || state === null) return { ok: false, reason: `${STATE_FILE} has an unknown format` }
  if (SHARED_KEY_VERSIONS.includes(state.version)) return fromSharedKeyFormat(state.version as number, state.session ?? null)
  if (state.version === NO_TRAFFIC_VERSION && isObject(state.session)) state.session = withoutTraffic(state.session)
  if (state.version !== STATE_VERSION && state.version !== NO_TRAFFIC_VERSION) {
    const newer = typeof state.version === 'number' && state.version > STATE_VERSION
    return { ok: false, reason: newer ? `${STATE_FILE} was written by a newer overlan (format ${String(state.version)}): upgrade overlan, or remove it to start disabled` : `${STATE_FILE} has an unknown format` }
  }
  if (!isSeed(state.deviceIdentity)) return { ok: false, reason: `${STATE_FILE} has a damaged device identity` }
  if (state.session === null || state.session === undefined) return { ok: true, state: emptyState(state.deviceIdentity) }
  if (!isSession(state.session)) return { ok: false, reason: `${STATE_FILE} has a damaged session` }
  return { ok: true, state: { version: STATE_VERSION, deviceIdentity: state.deviceIdentity, session: state.session } }
}

function emptyState(deviceIdentity: string): PersistedState {
  return { version: STATE_VERSION, deviceIdentity, session: null }
}

/**
 * overlan 0.1/0.2's file: a format-2 session's device identity becomes the device's (the same key
 * the supernode and technicians saw); the session itself, a shared key's, ends.
 */
function fromSharedKeyFormat(version: number, session: Record<string, unknown> | null): LoadResult {
  const identity = version === 2 && isSeed(session?.deviceIdentity) ? session.deviceIdentity : newDeviceIdentity()
  if (session === null) return { ok: true, state: emptyState(identity), migrated: `${STATE_FILE} is from overlan 0.${version} (format ${version}): converted to format ${STATE_VERSION}` }
  return {
    ok: true,
    state: emptyState(identity),
    droppedSession: true,
    migrated: `${STATE_FILE} is from overlan 0.${version} (format ${version}): its assistance session used one shared key for every technician and cannot go on with consent: it has ended; switch assistance on again for a new join token`,
  }
}

/**
 * A format-3 session as format 4: its traffic is unknown (lastTraffic null); an admitted
 * technician's admission is when it entered that state, a disconnected one's is not known better
 * than when it asked.
 */
function withoutTraffic(session: Record<string, unknown>): Record<string, unknown> {
  const technicians = Array.isArray(session.technicians)
    ? session.technicians.map((r: unknown) => {
        if (!isObject(r) || typeof r.certificate !== 'string' || r.admittedAt !== undefined) return r
        return { ...r, admittedAt: r.state === 'admitted' ? r.since : r.requestedAt }
      })
    : session.technicians
  return { ...session, lastTraffic: null, technicians }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isSeed(value: unknown): value is string {
  return typeof value === 'string' && Buffer.from(value, 'base64').length === SEED_BYTES
}

const isInt = (v: unknown, min: number, max: number): boolean => Number.isInteger(v) && (v as number) >= min && (v as number) <= max

function isSession(s: Record<string, unknown>): s is SessionState & Record<string, unknown> {
  return (
    typeof s.community === 'string' &&
    typeof s.token === 'string' &&
    typeof s.overlayIp === 'string' &&
    typeof s.deviceMac === 'string' &&
    /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(s.deviceMac) &&
    Number.isFinite(s.since) &&
    Number.isFinite(s.expiresAt) &&
    typeof s.adminAccess === 'boolean' &&
    (s.adminPassword === null || typeof s.adminPassword === 'string') &&
    isSeed(s.authority) &&
    isSeed(s.enrollmentSecret) &&
    typeof s.deviceCertificate === 'string' &&
    (s.consent === 'ask' || s.consent === 'auto') &&
    isInt(s.maxTechnicians, 1, 10) &&
    isInt(s.idleMinutes, 0, 1440) &&
    (s.lastTraffic === null || Number.isFinite(s.lastTraffic)) &&
    (s.allow === null || typeof s.allow === 'string') &&
    isInt(s.issued, 1, Number.MAX_SAFE_INTEGER) &&
    Array.isArray(s.technicians) &&
    s.technicians.every(isTechnician)
  )
}

function isTechnician(value: unknown): boolean {
  const r = value as Record<string, unknown>
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.id === 'string' &&
    typeof r.name === 'string' &&
    typeof r.publicKey === 'string' &&
    typeof r.fingerprint === 'string' &&
    typeof r.address === 'string' &&
    (TECHNICIAN_STATES as readonly unknown[]).includes(r.state) &&
    Number.isFinite(r.requestedAt) &&
    Number.isFinite(r.since) &&
    // a certificate in force or revoked is what the restarted service must agree on
    (r.state !== 'admitted' || typeof r.certificate === 'string') &&
    (r.state !== 'disconnected' || typeof r.revocation === 'string') &&
    (r.admittedAt === undefined || Number.isFinite(r.admittedAt)) &&
    (r.traffic === undefined || isTraffic(r.traffic))
  )
}

function isTraffic(value: unknown): boolean {
  if (!isObject(value)) return false
  const count = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0
  return Number.isFinite(value.firstSeen) && Number.isFinite(value.lastSeen) && (value.lastSeen as number) >= (value.firstSeen as number) && count(value.rxBytes) && count(value.txBytes)
}
