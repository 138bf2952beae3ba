// The remote-assistance service: one session at a time. Enabling makes a fresh community and key,
// starts the device's edge and hands out a join token; disabling, or the expiry deadline (24 h at
// most), stops the edge and destroys the key. The state survives restarts (state-file.ts), and every
// change goes to the hash-chained audit log, whose record commits it: a restart after a stop at any
// step makes the state file agree with the log's last word (see reconcile()).
import { randomBytes } from 'node:crypto'
import { randomMac } from '../tap/linux-tap.js'
import { customAlphabet } from 'nanoid'
import { generateSecret } from '../crypto/secret.js'
import type { EdgeStatus } from '../edge/edge.js'
import { silentLogger, type Logger } from '../log/logger.js'
import type { SupernodeHost } from '../net/address.js'
import { systemClock, type Clock, type TimerHandle } from '../time/clock.js'
import { deadline } from '../time/deadline.js'
import { formatMac, parseMac, type OverlayAddress } from '../wire/index.js'
import type { AuditEvent, AuditLog, AuditRecord } from './audit-log.js'
import { encodeJoinToken } from './join-token.js'
import { connectionTest, type ConnectionTestResult } from './probe.js'
import type { NetcheckDeps } from '../netcheck/netcheck.js'
import { tlsProber } from '../netcheck/tls-probe.js'
import { SessionHookFailed, SessionHooks, endReason, type HookCommands } from './hooks.js'
import { SessionReceipts, type ReceiptDelivery } from './session-receipts.js'
import { SessionSecrets } from './session-secrets.js'
import { STATE_FILE, STATE_VERSION, loadState, newDeviceIdentity, saveState, type SessionState } from './state-file.js'
import type { StepObserver } from './steps.js'

export const MAX_DURATION_SECONDS = 86_400
/** A technician not heard from for this long has left (direct paths send a probe every 5 s). */
export const TECHNICIAN_GONE_MS = 60_000
export const PRESENCE_CHECK_MS = 1_000
/** Readable, unambiguous, 12 symbols from 55: ~69 bits, for a password typed by hand once. */
const adminPassword = customAlphabet('23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ', 16)
const communitySuffix = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 12)

/** The device's edge, as the service needs it: started per session, stopped with it. */
export interface DeviceEdge {
  status(): EdgeStatus
  stop(why: string): Promise<void>
  /** called when the edge stops by itself (its own expiry, a fatal error) */
  onStopped(listener: (why: string) => void): void
  /** hands the session's receipt to every connected technician; resolves with who confirmed, within timeoutMs */
  deliverReceipt?(text: Buffer, timeoutMs: number): Promise<ReceiptDelivery>
}

export interface DeviceEdgeConfig {
  community: string
  /** the community secret, in secret memory: the service owns it and zeroes it when the session ends */
  key: Buffer
  /** the TAP device's MAC, kept for the whole session */
  mac: Buffer
  /** the device edge's identity seed (32 bytes, secret memory, the service's to zero): the same member after a restart */
  identity: Buffer
  /** each with the UDP ports it answers on (tried all at once, as `-l host:7654,443`) */
  supernodes: SupernodeHost[]
  /** the supernodes' WebSocket URLs: the device's edge falls back to them when its network blocks UDP */
  fallbacks: string[]
  overlay: OverlayAddress
  expiresAt: number
}

export type StartDeviceEdge = (config: DeviceEdgeConfig) => Promise<DeviceEdge>

export interface AssistConfig {
  stateDir: string
  /** supernodes the device's edge registers with */
  supernodes: SupernodeHost[]
  /** supernodes written into join tokens, as technicians reach them (default: `supernodes`) */
  tokenSupernodes?: SupernodeHost[]
  /** the supernodes' WebSocket URLs (wss://HOST/overlan) for networks that block UDP: in join tokens, the connection test and the device's own edge */
  fallbacks?: string[]
  /** the device's overlay address */
  deviceIp: OverlayAddress
}

export interface AssistDeps {
  audit: AuditLog
  startEdge: StartDeviceEdge
  clock?: Clock
  logger?: Logger
  /** told of each step of a state change (steps.ts); fault tests stop the service there */
  onStep?: StepObserver
  /** how the connection test reaches the fallback URLs (default: system CAs, no proxy) */
  netcheck?: NetcheckDeps
  /** --on-session-start / --on-session-end (hooks.ts), and the environment they start from */
  hooks?: HookCommands
  hookEnv?: Readonly<Record<string, string | undefined>>
}

/** The audit events that switch assistance on or off; the last of them says which it is. */
const SESSION_ENDS: ReadonlySet<AuditEvent> = new Set<AuditEvent>(['disable', 'expire', 'enable-failed', 'session-lost'])

export interface Technician {
  id: string
  ip: string | null
  name?: string
  /** its certificate's fingerprint: who it is, as revocations and the audit log name it */
  fingerprint: string
  path: string
  endpoint: string | null
  since: string
  lastSeenMs: number
}

export interface AssistanceStatus {
  enabled: boolean
  since: string | null
  expiresAt: string | null
  remainingSeconds: number
  adminAccess: boolean
  overlayIp: string | null
  technicians: Technician[]
  supernodes: { address: string; registered: boolean; rttMs: number | null }[]
  /** why the last enable failed, if it did (e.g. no TAP device without root) */
  error: string | null
}

export interface EnableResult {
  enabled: true
  token: string
  expiresAt: string
  overlayIp: string
  adminPassword?: string
}

/** A session in memory: what the state file holds, with its secrets in secret memory rather than in strings. */
type LiveSession = Omit<SessionState, 'key' | 'token' | 'adminPassword' | 'deviceIdentity'> & { secrets: SessionSecrets }

function liveSession(state: SessionState): LiveSession {
  const { key, token, adminPassword, deviceIdentity, ...rest } = state
  return { ...rest, secrets: new SessionSecrets({ key, token, adminPassword, deviceIdentity }) }
}

export class AssistanceService {
  private session: LiveSession | null = null
  private edge: DeviceEdge | null = null
  private expiryTimer: TimerHandle | null = null
  private presenceTimer: TimerHandle | null = null
  /**
   * Technicians seen this session: edge ID → first seen, the last endpoint authenticated by the
   * peer's session (a direct path's), and its certificate's name and fingerprint. Not its overlay
   * address: technicians join with the session's shared secret and so issue their own certificates,
   * so an address in one is the technician's own word (until the owner's authority issues them).
   */
  private readonly present = new Map<string, { since: number; endpoint: string | null; name: string; fingerprint: string | null }>()
  private lastError: string | null = null
  /** one state change at a time: enable, disable and expiry never interleave */
  private queue: Promise<unknown> = Promise.resolve()

  private constructor(
    readonly config: AssistConfig,
    private readonly audit: AuditLog,
    private readonly startEdge: StartDeviceEdge,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly onStep: StepObserver,
    private readonly netcheck: NetcheckDeps,
    /** the integrator's hooks and the end-of-session receipts: each called at the session's start and end */
    private readonly hooks: SessionHooks,
    private readonly receipts: SessionReceipts,
  ) {}

  /** Loads the state: a session still running comes back (same key and token), an expired one is closed. */
  static async start(config: AssistConfig, deps: AssistDeps): Promise<AssistanceService> {
    const clock = deps.clock ?? systemClock
    const log = deps.logger ?? silentLogger
    const hooks = new SessionHooks(deps.hooks ?? {}, { env: deps.hookEnv ?? {}, clock, log, record: (event, details) => deps.audit.append(event, details, clock.now()) })
    const receipts = new SessionReceipts({ stateDir: config.stateDir, audit: deps.audit, clock, log })
    const service = new AssistanceService(config, deps.audit, deps.startEdge, clock, log, deps.onStep ?? (() => {}), deps.netcheck ?? { probeTls: tlsProber({ env: {} }) }, hooks, receipts)
    await service.reconcile()
    return service
  }

  enable(options: { durationSeconds: number; adminAccess: boolean }): Promise<EnableResult> {
    return this.serialize(async () => {
      if (this.session !== null) return this.enableResult(this.session, false)
      const now = this.clock.now()
      const expiresAt = now + options.durationSeconds * 1000
      const community = `assist-${communitySuffix()}`
      const key = generateSecret()
      const supernodes = this.config.tokenSupernodes ?? this.config.supernodes
      const deviceIp = this.config.deviceIp
      const persisted: SessionState = {
        community,
        key,
        since: now,
        expiresAt,
        adminAccess: options.adminAccess,
        adminPassword: options.adminAccess ? adminPassword() : null,
        overlayIp: `${deviceIp.address}/${deviceIp.prefix}`,
        deviceMac: formatMac(randomMac()),
        deviceIdentity: newDeviceIdentity(),
        token: encodeJoinToken({ community, key, supernodes, expiresAt, deviceIp, fallbacks: this.config.fallbacks ?? [] }),
      }
      await this.onStep('enable:begin')
      // the state file first (the key lives only there), the audit record last: it commits the
      // enable, and a restart rolls back a session the log does not show as enabled
      await saveState(this.config.stateDir, { version: STATE_VERSION, session: persisted })
      const session = liveSession(persisted)
      this.session = session
      await this.onStep('enable:state-written')
      try {
        await this.runSession(session)
        // the integrator's grant (an admin account, say): a failure switches the session off again
        await this.hooks.sessionStarting({ sessionId: community, expiresAt, adminPassword: session.secrets.adminPasswordText() })
      } catch (err) {
        await this.endSession('enable-failed', { reason: err instanceof SessionHookFailed ? err.message : `the device's edge did not start: ${(err as Error).message}` })
        this.lastError = (err as Error).message
        throw err
      }
      await this.onStep('enable:edge-started')
      this.lastError = null
      await this.record('enable', { community, expiresAt: new Date(expiresAt).toISOString(), durationSeconds: options.durationSeconds, adminAccess: options.adminAccess, overlayIp: session.overlayIp })
      await this.onStep('enable:recorded')
      this.log.info(`assistance enabled until ${new Date(expiresAt).toISOString()}`)
      return this.enableResult(session, true)
    })
  }

  disable(): Promise<void> {
    return this.serialize(async () => {
      if (this.session === null) return
      await this.endSession('disable', {})
      this.log.info('assistance disabled')
    })
  }

  status(): AssistanceStatus {
    const session = this.session
    const now = this.clock.now()
    const edgeStatus = this.edge?.status() ?? null
    return {
      enabled: session !== null,
      since: session ? new Date(session.since).toISOString() : null,
      expiresAt: session ? new Date(session.expiresAt).toISOString() : null,
      remainingSeconds: session ? Math.max(0, Math.ceil((session.expiresAt - now) / 1000)) : 0,
      adminAccess: session?.adminAccess ?? false,
      overlayIp: session?.overlayIp ?? null,
      technicians: edgeStatus ? this.technicians(edgeStatus) : [],
      supernodes: (edgeStatus?.supernodes ?? []).map((s) => ({ address: s.address, registered: s.registered, rttMs: s.rttMs })),
      error: this.lastError,
    }
  }

  /** netcheck against the configured supernodes (UDP: HELLO → COOKIE) and fallback URLs, with a timeout. */
  async connectionTest(): Promise<ConnectionTestResult> {
    const result = await connectionTest(this.config.supernodes, this.config.fallbacks ?? [], this.netcheck)
    await this.record('connection-test', { results: result.supernodes.map((s) => ({ address: s.address, reachable: s.reachable, rttMs: s.rttMs })), canConnect: result.canConnect })
    return result
  }

  /**
   * Stops timers and the edge without ending the session (the service is shutting down; it resumes
   * at the next start, from the state file): this object's copies of the secrets are zeroed.
   */
  async shutdown(): Promise<void> {
    await this.serialize(async () => {
      this.stopTimers()
      await this.edge?.stop('service stopping')
      this.edge = null
      this.session?.secrets.destroy()
    })
  }

  record(event: AuditEvent, details: Record<string, unknown>): Promise<unknown> {
    return this.audit.append(event, details, this.clock.now())
  }

  auditRecords(): Promise<AuditRecord[]> {
    return this.audit.records()
  }

  // ---- internals ------------------------------------------------------------------------------

  /**
   * Makes the state file and the audit log agree, whatever step the last run stopped at. The audit
   * record commits each change, so the log's last session event decides:
   * - the state holds a session the log shows enabled: it resumes (or ends, if it has expired);
   * - the state holds a session the log has already ended: the end is finished (state cleared);
   * - the state holds a session the log never shows enabled: the enable stopped before it answered,
   *   nobody holds its token, and it is rolled back (audited as enable-failed);
   * - the state holds none while the log shows one enabled (the state was removed or replaced):
   *   its key is gone with it, so it is recorded as lost.
   */
  private async reconcile(): Promise<void> {
    const loaded = await loadState(this.config.stateDir)
    if (!loaded.ok) {
      this.log.error(`assistance state unreadable (${loaded.reason}): starting disabled`)
      await this.record('state-unreadable', { reason: loaded.reason })
      await saveState(this.config.stateDir, { version: STATE_VERSION, session: null })
      return
    }
    if (loaded.migrated !== undefined) {
      this.log.warn(loaded.migrated)
      await saveState(this.config.stateDir, loaded.state)
    }
    const stored = loaded.state.session
    const last = lastSessionEvent(await this.audit.records())
    const lastCommunity = last?.details.community
    if (stored === null) {
      if (last?.event === 'enable') {
        this.log.error(`the audit log says assistance is on (${String(lastCommunity)}) but the state holds no session: recorded as lost`)
        await this.record('session-lost', { community: lastCommunity, reason: `${STATE_FILE} holds no session: the key is gone, the session cannot resume` })
        await this.hooks.sessionEnded({ sessionId: String(lastCommunity), expiresAt: Date.parse(String(last.details.expiresAt)) || null, reason: endReason('session-lost') })
      }
      return
    }
    const session = liveSession(stored)
    this.session = session
    if (last !== undefined && lastCommunity === session.community && SESSION_ENDS.has(last.event)) {
      // the last run may have stopped before its end hook: run it (again)
      await this.hooks.sessionEnded({ sessionId: session.community, expiresAt: session.expiresAt, reason: endReason(last.event) })
      await saveState(this.config.stateDir, { version: STATE_VERSION, session: null })
      this.forgetSession(session)
      this.log.info(`finished ending the assistance session (${last.event}) that the last run had recorded`)
      return
    }
    if (last?.event !== 'enable' || lastCommunity !== session.community) {
      this.log.info('the last run stopped while enabling assistance, before it answered: rolled back')
      await this.endSession('enable-failed', { reason: 'the service stopped during the enable, before recording it: rolled back at restart (nobody received its token)' })
      return
    }
    if (session.expiresAt <= this.clock.now()) {
      await this.endSession('expire', { expiresAt: new Date(session.expiresAt).toISOString(), note: 'expired while the service was stopped' })
      this.log.info('the assistance session expired while the service was stopped: disabled')
      return
    }
    this.log.info(`restoring the assistance session until ${new Date(session.expiresAt).toISOString()}`)
    try {
      await this.runSession(session)
    } catch (err) {
      this.lastError = (err as Error).message
      this.log.error(`cannot restart the device's edge: ${this.lastError}`)
    }
  }

  private async runSession(session: LiveSession): Promise<void> {
    const [address, prefix] = session.overlayIp.split('/') as [string, string]
    const edge = await this.startEdge({
      community: session.community,
      key: session.secrets.key,
      mac: parseMac(session.deviceMac)!,
      identity: session.secrets.deviceIdentity,
      supernodes: this.config.supernodes,
      fallbacks: this.config.fallbacks ?? [],
      overlay: { address, prefix: Number(prefix) },
      // the edge stops on its own at expiry too, even if this service were wedged
      expiresAt: session.expiresAt,
    })
    this.edge = edge
    this.receipts.begin(() => this.edge?.status().peers ?? [])
    const expire = (): void => {
      this.serialize(() => this.expireNow()).catch((err: unknown) => this.log.error(`expiry: ${(err as Error).message}`))
    }
    edge.onStopped((why) => {
      if (this.edge === edge && why === 'expired') expire()
    })
    // on the wall clock: a system suspend must not stretch the session (deadline.ts)
    this.expiryTimer = deadline(this.clock, session.expiresAt, expire)
    this.presenceTimer = this.clock.every(PRESENCE_CHECK_MS, () => {
      this.checkPresence().catch((err: unknown) => this.log.error(`technician audit: ${(err as Error).message}`))
    })
  }

  private async expireNow(): Promise<void> {
    if (this.session === null) return
    await this.endSession('expire', { expiresAt: new Date(this.session.expiresAt).toISOString() })
    this.log.info('assistance expired: disabled')
  }

  /** Steps: stop the edge, record the end (which commits it), then clear the state file. */
  private async endSession(event: 'disable' | 'expire' | 'enable-failed', details: Record<string, unknown>): Promise<void> {
    const session = this.session!
    await this.onStep(`${event}:begin`)
    this.stopTimers()
    const edge = this.edge
    // the receipt, while the edge still runs: it carries each technician's copy
    const receipt = await this.receipts.end({ sessionId: session.community, since: session.since, identitySeed: session.secrets.deviceIdentity, deliver: edge?.deliverReceipt ? (text, timeoutMs) => edge.deliverReceipt!(text, timeoutMs) : undefined }, event)
    this.edge = null
    await edge?.stop(event === 'expire' ? 'expired' : 'disabled').catch(() => {})
    await this.onStep(`${event}:edge-stopped`)
    for (const [id, t] of this.present) await this.record('technician-left', { id, ...whoFields(t), endpoint: t.endpoint, reason: event === 'expire' ? 'session expired' : 'session ended' })
    this.present.clear()
    await this.record(event, { community: session.community, ...details, ...receipt })
    await this.onStep(`${event}:recorded`)
    // before the state is cleared: a restart that finds the end recorded runs it again (at least once)
    await this.hooks.sessionEnded({ sessionId: session.community, expiresAt: session.expiresAt, reason: endReason(event) })
    await saveState(this.config.stateDir, { version: STATE_VERSION, session: null })
    this.forgetSession(session)
    await this.onStep(`${event}:state-written`)
  }

  /** The service's copies of the key, the token and the admin password are zeroed with the session. */
  private forgetSession(session: LiveSession): void {
    session.secrets.destroy()
    this.session = null
  }

  private stopTimers(): void {
    this.expiryTimer?.cancel()
    this.presenceTimer?.cancel()
    this.expiryTimer = null
    this.presenceTimer = null
  }

  private technicians(status: EdgeStatus): Technician[] {
    return status.peers
      .filter((p) => p.lastSeenMs < TECHNICIAN_GONE_MS)
      .map((p) => ({
        id: p.id,
        ip: p.ip,
        ...(p.name ? { name: p.name } : {}),
        fingerprint: p.fingerprint,
        path: p.path,
        endpoint: p.endpoint,
        since: new Date(this.present.get(p.id)?.since ?? this.clock.now()).toISOString(),
        lastSeenMs: p.lastSeenMs,
      }))
  }

  /** Audits technicians joining and leaving, by comparing who the edge hears from. */
  private async checkPresence(): Promise<void> {
    const edge = this.edge
    if (edge === null) return
    const now = this.clock.now()
    const here = new Map(edge.status().peers.filter((p) => p.lastSeenMs < TECHNICIAN_GONE_MS).map((p) => [p.id, p]))
    for (const [id, p] of here) {
      const known = this.present.get(id)
      if (known !== undefined) {
        // a relayed technician's endpoint is known once a direct path is authenticated; keep the last one
        if (p.endpoint !== null) known.endpoint = p.endpoint
        continue
      }
      const who = { since: now, endpoint: p.endpoint, name: p.name, fingerprint: p.fingerprint }
      this.present.set(id, who)
      // endpoint: null while the technician is reached through the relay
      await this.record('technician-joined', { id, ...whoFields(who), endpoint: p.endpoint, path: p.path })
      this.log.info(`technician ${id}${p.name ? ` (${p.name})` : ''}${who.fingerprint !== null ? ` certificate ${who.fingerprint}` : ''} joined from ${p.endpoint ?? 'the relay'}`)
    }
    for (const [id, t] of this.present) {
      if (here.has(id)) continue
      this.present.delete(id)
      await this.record('technician-left', { id, ...whoFields(t), endpoint: t.endpoint })
      this.log.info(`technician ${id} left`)
    }
  }

  private enableResult(session: LiveSession, fresh: boolean): EnableResult {
    const adminPassword = fresh ? session.secrets.adminPasswordText() : null
    return {
      enabled: true,
      token: session.secrets.tokenText(),
      expiresAt: new Date(session.expiresAt).toISOString(),
      overlayIp: session.overlayIp,
      // the admin password is shown once, in the answer to the enable that made it
      ...(adminPassword !== null ? { adminPassword } : {}),
    }
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work)
    this.queue = result.catch(() => {})
    return result
  }
}

/** The last record that switched assistance on or off (state-unreadable switched it off too). */
function lastSessionEvent(records: AuditRecord[]): AuditRecord | undefined {
  return records.findLast((r) => r.event === 'enable' || r.event === 'state-unreadable' || SESSION_ENDS.has(r.event))
}

/** What the audit log records of who a technician is: its certificate's name (if any) and fingerprint. */
function whoFields(who: { name: string; fingerprint: string | null }): Record<string, string> {
  return { ...(who.name ? { name: who.name } : {}), ...(who.fingerprint !== null ? { fingerprint: who.fingerprint } : {}) }
}

/** A random 256-bit bearer token for the API, as text. */
export function newApiToken(): string {
  return randomBytes(32).toString('base64url')
}

