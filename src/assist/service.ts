// The remote-assistance service: one session at a time. Enabling makes a fresh community whose
// authority is this service (its key never leaves the device), the device's certificate, and a join
// token with an enrollment secret; the device's edge answers technicians' enrollment requests with
// this service's decisions (consent, technicians.ts): each technician is admitted by the owner (or
// automatically, up to maxTechnicians) and gets a certificate of its own, and a disconnect revokes
// it alone. Disabling, the expiry deadline (24 h at most) or the idle timeout revokes every admitted
// technician, stops the edge and destroys the keys. The state survives restarts (state-file.ts),
// and every change goes to the hash-chained audit log: a session's switch-on and switch-off are
// committed by their audit record (see reconcile()); a technician's admission or disconnect by the
// state file, written before the certificate or the revocation leaves the service.
import { randomBytes } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import { customAlphabet } from 'nanoid'
import { keyFingerprint, identityFromSeed, destroyIdentity } from '../crypto/identity.js'
import { destroySecret, secretMemory } from '../crypto/secure-memory.js'
import { parseAllow, type AllowRules } from '../edge/allow-filter.js'
import type { EdgeStatus } from '../edge/edge.js'
import { silentLogger, type Logger } from '../log/logger.js'
import type { SupernodeHost } from '../net/address.js'
import { randomMac } from '../tap/linux-tap.js'
import { systemClock, type Clock, type TimerHandle } from '../time/clock.js'
import { deadline } from '../time/deadline.js'
import { formatMac, parseMac, type OverlayAddress } from '../wire/index.js'
import type { AuditEvent, AuditLog, AuditRecord } from './audit-log.js'
import { SessionAuthority, issuedOf, type Issued } from './authority.js'
import { encodeJoinTokenV2 } from './join-token.js'
import type { EnrollmentDecider } from '../edge/enrollment.js'
import type { NetcheckDeps } from '../netcheck/netcheck.js'
import { tlsProber } from '../netcheck/tls-probe.js'
import { connectionTest, type ConnectionTestResult } from './probe.js'
import { SessionHookFailed, SessionHooks, endReason, type HookCommands } from './hooks.js'
import { SessionReceipts, type ReceiptDelivery } from './session-receipts.js'
import { TechnicianLedger, type TechnicianSample } from './technician-ledger.js'
import { SessionSecrets } from './session-secrets.js'
import { STATE_FILE, STATE_VERSION, loadState, newDeviceIdentity, saveState, type SessionState } from './state-file.js'
import type { StepObserver } from './steps.js'
import {
  DEFAULT_MAX_TECHNICIANS,
  DecisionConflict,
  TechnicianRegistry,
  edgeIdOfRecord,
  type Consent,
  type DecidedBy,

  type TechnicianRecord,
  type TechnicianState,
} from './technicians.js'

export const MAX_DURATION_SECONDS = 86_400
/** A technician not heard from for this long has left (direct paths send a probe every 5 s). */
export const TECHNICIAN_GONE_MS = 60_000
export const PRESENCE_CHECK_MS = 1_000
export const MAX_IDLE_MINUTES = 1440
/**
 * A running session's traffic (the idle countdown's start, each technician's figures) is saved at
 * most this often while it changes, and at a shutdown: a crash loses at most this much of it, which
 * can end an idle session this much early after the restart. An fsync a second would be too many.
 */
export const TRAFFIC_SAVE_MS = 10_000
/** The device's name in join tokens and certificates when none is configured. */
export const DEFAULT_DEVICE_NAME = 'device'
/** The name a technician's SOCKS5 proxy resolves to the device (contract C2). */
export const DEVICE_HOST_NAME = 'device.overlan'
/**
 * How long the switch-off waits between handing the device edge the revocations and stopping it:
 * the edge sends them to the supernodes at once, and a socket closed under a queued datagram may drop it.
 */
const REVOCATION_FLUSH_MS = 100
/** Readable, unambiguous, 12 symbols from 55: ~69 bits, for a password typed by hand once. */
const adminPassword = customAlphabet('23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ', 16)
const ENROLLMENT_SECRET_BYTES = 32

/** The device's edge, as the service needs it: started per session, stopped with it. */
export interface DeviceEdge {
  status(): EdgeStatus
  stop(why: string): Promise<void>
  /** called when the edge stops by itself (its own expiry, a fatal error) */
  onStopped(listener: (why: string) => void): void
  /** every revocation of the session so far: new ones go to the supernodes, their holders are dropped at once */
  setRevocations(revocations: Buffer[]): void
  /** hands the session's receipt to every connected technician; resolves with who confirmed, within timeoutMs */
  deliverReceipt?(text: Buffer, timeoutMs: number): Promise<ReceiptDelivery>
}

export interface DeviceEdgeConfig {
  /** the device's certificate (role device), issued by the session's authority */
  certificate: Buffer
  /** the device's identity seed (32 bytes, secret memory, the service's to zero): the same member after a restart */
  identity: Buffer
  /** the TAP device's MAC, the certificate's, kept for the whole session */
  mac: Buffer
  /** each with the UDP ports it answers on (tried all at once, as `-l host:7654,443`) */
  supernodes: SupernodeHost[]
  /** the supernodes' WebSocket URLs: the device's edge falls back to them when its network blocks UDP */
  fallbacks: string[]
  overlay: OverlayAddress
  expiresAt: number
  /** the session's revocations so far (a restarted service's edge refuses them at once) */
  revocations: Buffer[]
  /** the enrollment responder's secret (the token's) and the service's decider (contract C3) */
  enrollment: { secret: Buffer; decider: EnrollmentDecider }
  /** the session's `allow`, or undefined: the service's own (--allow) */
  allow?: AllowRules | null
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
  /** the device's name in its certificate and the join token (default DEFAULT_DEVICE_NAME) */
  deviceName?: string
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
const SESSION_ENDS: ReadonlySet<AuditEvent> = new Set<AuditEvent>(['disable', 'expire', 'idle', 'enable-failed', 'session-lost'])
type EndEvent = 'disable' | 'expire' | 'idle' | 'enable-failed'

/** The audit event that records a technician's request entering each state. */
const STATE_EVENTS: Record<TechnicianState, AuditEvent> = {
  waiting: 'technician-request',
  admitted: 'technician-admitted',
  denied: 'technician-denied',
  gone: 'technician-gone',
  disconnected: 'technician-disconnected',
}

/** A technician as GET /api/technicians and GET /api/assistance list it. */
export interface Technician {
  /** this request's ID (POST/DELETE /api/technicians/:id) */
  id: string
  /** admitted: its certificate's name; before: the name it asked for, bound to its key by the enrollment handshake */
  name: string
  /** its identity key's fingerprint */
  fingerprint: string
  state: TechnicianState
  /** where the request came from (ip:port as the supernode saw it) */
  address: string
  /** its overlay address (admitted and after), or null */
  ip: string | null
  /** admitted and heard: direct, relay, punching…; otherwise null */
  path: string | null
  /** when it entered its state (ISO) */
  since: string
  /** ms since the device last heard from it, or null when it never was */
  lastSeenMs: number | null
  rxBytes: number
  txBytes: number
  /** its certificate's fingerprint (as revocations name it), or null before admission */
  certificate: string | null
  /** who decided: console, api or auto; null while waiting */
  decidedBy: DecidedBy | null
}

export interface AssistanceStatus {
  enabled: boolean
  since: string | null
  expiresAt: string | null
  remainingSeconds: number
  adminAccess: boolean
  overlayIp: string | null
  consent: Consent | null
  maxTechnicians: number | null
  /** 0: no idle timeout */
  idleMinutes: number
  /** seconds until the idle timeout ends the session, or null without one */
  idleRemainingSeconds: number | null
  allow: string | null
  /** the device's identity key fingerprint, as join tokens carry it and technicians see it */
  deviceFingerprint: string
  /** the device's name as technicians see it: the running session's (its token and certificate), else the configured one */
  deviceName: string
  technicians: Technician[]
  supernodes: { address: string; registered: boolean; rttMs: number | null }[]
  /** why the last enable failed, if it did (e.g. no TAP device without root) */
  error: string | null
}

export interface EnableOptions {
  durationSeconds: number
  adminAccess: boolean
  /** "ask": the owner admits each technician; "auto" (default): admitted up to maxTechnicians */
  consent?: Consent
  maxTechnicians?: number
  idleMinutes?: number
  /** `overlan edge --allow` syntax, or null/undefined: the service's own rules */
  allow?: string | null
}

export interface EnableResult {
  enabled: true
  token: string
  expiresAt: string
  overlayIp: string
  deviceFingerprint: string
  adminPassword?: string
}

/** A session in memory: what the state file holds, its secrets in secret memory rather than in strings. */
type LiveSession = Omit<SessionState, 'token' | 'adminPassword' | 'authority' | 'enrollmentSecret' | 'deviceCertificate' | 'technicians'> & {
  secrets: SessionSecrets
  authority: SessionAuthority
  device: Issued
  registry: TechnicianRegistry
}

/** Raised for an unknown technician ID (the API answers 404). */
export class UnknownTechnician extends Error {}

export class AssistanceService {
  private session: LiveSession | null = null
  private edge: DeviceEdge | null = null
  private expiryTimer: TimerHandle | null = null
  private presenceTimer: TimerHandle | null = null
  /** the device's identity seed (secret memory), kept across sessions; set by reconcile() */
  private deviceSeed: Buffer = Buffer.alloc(0)
  private deviceFingerprint = ''
  /** Peers heard from this session: edge ID → first seen, the last authenticated endpoint, its certificate's name and fingerprint. */
  private readonly present = new Map<string, { since: number; endpoint: string | null; name: string; fingerprint: string | null }>()
  /** per technician request: what the device counted of it this session (kept after it leaves, saved with the session) */
  private ledger = new TechnicianLedger()
  /** per peer edge ID: frames received at the last presence check (keepalives and probes are not frames) */
  private readonly rxFrames = new Map<string, number>()
  /** when the session's traffic was last saved (TRAFFIC_SAVE_MS), and whether it changed since */
  private trafficSavedAt = 0
  private trafficChanged = false
  private lastError: string | null = null
  private shutDown = false
  /** one state change at a time: enable, disable, expiry and decisions never interleave */
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

  /** Loads the state: a session still running comes back (same keys, token and technicians), an expired one is closed. */
  static async start(config: AssistConfig, deps: AssistDeps): Promise<AssistanceService> {
    const clock = deps.clock ?? systemClock
    const log = deps.logger ?? silentLogger
    const hooks = new SessionHooks(deps.hooks ?? {}, { env: deps.hookEnv ?? {}, clock, log, record: (event, details) => deps.audit.append(event, details, clock.now()) })
    const receipts = new SessionReceipts({ stateDir: config.stateDir, audit: deps.audit, clock, log })
    const service = new AssistanceService(config, deps.audit, deps.startEdge, clock, log, deps.onStep ?? (() => {}), deps.netcheck ?? { probeTls: tlsProber({ env: {} }) }, hooks, receipts)
    await service.reconcile()
    return service
  }

  enable(options: EnableOptions): Promise<EnableResult> {
    return this.serialize(async () => {
      if (this.session !== null) return this.enableResult(this.session, false)
      const now = this.clock.now()
      const expiresAt = now + options.durationSeconds * 1000
      const allow = options.allow ?? null
      const authority = SessionAuthority.generate()
      const enrollmentSecret = randomBytes(ENROLLMENT_SECRET_BYTES)
      const deviceIp = this.config.deviceIp
      const deviceMac = randomMac()
      const deviceKey = this.deviceKey()
      const device = authority.issue({ role: 'device', serial: 1, memberKey: deviceKey, mac: deviceMac, ipv4: deviceIp, name: this.deviceName, notBefore: now, notAfter: expiresAt })
      const persisted: SessionState = {
        community: authority.communityId.toString('hex'),
        since: now,
        expiresAt,
        adminAccess: options.adminAccess,
        adminPassword: options.adminAccess ? adminPassword() : null,
        overlayIp: `${deviceIp.address}/${deviceIp.prefix}`,
        deviceMac: formatMac(deviceMac),
        token: encodeJoinTokenV2({
          supernodes: this.config.tokenSupernodes ?? this.config.supernodes,
          fallbacks: this.config.fallbacks ?? [],
          authorityKey: authority.publicKey,
          deviceKey,
          deviceName: this.deviceName,
          deviceIp,
          deviceHostName: DEVICE_HOST_NAME,
          expiresAt,
          enrollmentSecret,
        }),
        authority: authority.seedText(),
        enrollmentSecret: enrollmentSecret.toString('base64'),
        deviceCertificate: device.bytes.toString('base64'),
        consent: options.consent ?? 'auto',
        maxTechnicians: options.maxTechnicians ?? DEFAULT_MAX_TECHNICIANS,
        idleMinutes: options.idleMinutes ?? 0,
        lastTraffic: now,
        allow,
        issued: 1,
        technicians: [],
      }
      // the live session's copies are made from the state's text, in secret memory
      destroySecret(enrollmentSecret)
      authority.destroy()
      await this.onStep('enable:begin')
      // the state file first (the keys live only there), the audit record last: it commits the
      // enable, and a restart rolls back a session the log does not show as enabled
      await this.saveStateOf(persisted)
      const session = this.liveSession(persisted)
      this.session = session
      await this.onStep('enable:state-written')
      try {
        await this.runSession(session)
        // the integrator's grant (an admin account, say): a failure switches the session off again
        await this.hooks.sessionStarting({ sessionId: session.community, expiresAt, adminPassword: session.secrets.adminPasswordText() })
      } catch (err) {
        await this.endSession('enable-failed', { reason: err instanceof SessionHookFailed ? err.message : `the device's edge did not start: ${(err as Error).message}` })
        this.lastError = (err as Error).message
        throw err
      }
      await this.onStep('enable:edge-started')
      this.lastError = null
      await this.record('enable', {
        community: session.community,
        expiresAt: new Date(expiresAt).toISOString(),
        durationSeconds: options.durationSeconds,
        adminAccess: options.adminAccess,
        overlayIp: session.overlayIp,
        consent: session.consent,
        maxTechnicians: session.maxTechnicians,
        idleMinutes: session.idleMinutes,
        allow: session.allow,
        device: { name: device.certificate.name, fingerprint: this.deviceFingerprint, certificate: device.fingerprint },
      })
      await this.onStep('enable:recorded')
      this.log.info(`assistance enabled until ${new Date(expiresAt).toISOString()} (consent ${session.consent}, at most ${session.maxTechnicians} technicians)`)
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
    const idleMs = (session?.idleMinutes ?? 0) * 60_000
    return {
      enabled: session !== null,
      since: session ? new Date(session.since).toISOString() : null,
      expiresAt: session ? new Date(session.expiresAt).toISOString() : null,
      remainingSeconds: session ? Math.max(0, Math.ceil((session.expiresAt - now) / 1000)) : 0,
      adminAccess: session?.adminAccess ?? false,
      overlayIp: session?.overlayIp ?? null,
      consent: session?.consent ?? null,
      maxTechnicians: session?.maxTechnicians ?? null,
      idleMinutes: session?.idleMinutes ?? 0,
      idleRemainingSeconds: session && idleMs > 0 ? Math.max(0, Math.ceil(((session.lastTraffic ?? now) + idleMs - now) / 1000)) : null,
      allow: session?.allow ?? null,
      deviceFingerprint: this.deviceFingerprint,
      deviceName: session?.device.certificate.name ?? this.deviceName,
      technicians: this.technicians(edgeStatus),
      supernodes: (edgeStatus?.supernodes ?? []).map((s) => ({ address: s.address, registered: s.registered, rttMs: s.rttMs })),
      error: this.lastError,
    }
  }

  /** The session's technicians (waiting, admitted and those that were), oldest request first. */
  technicians(edgeStatus: EdgeStatus | null = this.edge?.status() ?? null): Technician[] {
    const session = this.session
    if (session === null) return []
    const now = this.clock.now()
    const peers = new Map((edgeStatus?.peers ?? []).map((p) => [p.id, p]))
    return session.registry.list().map((r) => {
      const peer = r.state === 'admitted' ? peers.get(edgeIdOfRecord(r)) : undefined
      const seen = this.ledger.get(r.id)
      return {
        id: r.id,
        name: r.name,
        fingerprint: r.fingerprint,
        state: r.state,
        address: r.address,
        ip: r.ip ?? null,
        path: peer?.path ?? null,
        since: new Date(r.since).toISOString(),
        lastSeenMs: peer?.lastSeenMs ?? (seen !== undefined ? now - seen.lastSeen : null),
        // the session's totals (across peer entries and restarts), as of the last presence check
        rxBytes: seen?.rxBytes ?? 0,
        txBytes: seen?.txBytes ?? 0,
        certificate: r.certificateFingerprint ?? null,
        decidedBy: r.decidedBy ?? null,
      }
    })
  }

  /**
   * The owner's decision on a waiting request: admit issues its certificate (saved before any poll
   * is answered with it), deny refuses it. UnknownTechnician (404) or DecisionConflict (409).
   */
  decide(id: string, admit: boolean, by: 'console' | 'api'): Promise<Technician> {
    return this.serialize(async () => {
      const session = this.liveOr404(id)
      if (admit) await this.admitNow(session, id, by)
      else await this.denyNow(session, id, by)
      return this.technicians().find((t) => t.id === id)!
    })
  }

  /**
   * Disconnects an admitted technician: its certificate is revoked (saved first), the device edge
   * drops it at once and hands the revocation to the supernodes, which refuse it from then on.
   */
  disconnect(id: string, by: 'console' | 'api'): Promise<Technician> {
    return this.serialize(async () => {
      const session = this.liveOr404(id)
      const record = session.registry.checkDisconnect(id)
      if (record === undefined) throw new UnknownTechnician(`no technician ${id} in this session`)
      // its last bytes count: its peer entry goes with the revocation
      this.sampleTraffic(session)
      await this.revokeAndSave(session, [record], 'disconnected')
      await this.onStep('technician-disconnected:state-written')
      this.edge?.setRevocations(session.registry.revocations())
      await this.onStep('technician-disconnected:edge-told')
      await this.recordTechnician(session, id, { by })
      this.log.info(`technician ${record.name} (${record.fingerprint}) disconnected by the ${by === 'api' ? 'API' : 'console'}`)
      return this.technicians().find((t) => t.id === id)!
    })
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
      // a second shutdown finds the secrets zeroed: nothing left to save or destroy
      if (this.shutDown) return
      this.shutDown = true
      this.stopTimers()
      await this.edge?.stop('service stopping')
      this.edge = null
      if (this.session !== null) {
        // the idle countdown and the traffic figures go on where they are after the restart
        try {
          await this.saveSession(this.session)
        } catch (err) {
          this.log.error(`saving the session's traffic: ${(err as Error).message}`)
        }
        this.destroySecrets(this.session)
      }
      destroySecret(this.deviceSeed)
    })
  }

  record(event: AuditEvent, details: Record<string, unknown>): Promise<unknown> {
    return this.audit.append(event, details, this.clock.now())
  }

  auditRecords(): Promise<AuditRecord[]> {
    return this.audit.records()
  }

  // ---- internals ------------------------------------------------------------------------------

  private get deviceName(): string {
    return this.config.deviceName ?? DEFAULT_DEVICE_NAME
  }

  /** The device's identity public key (from its seed, the secret key zeroed at once). */
  private deviceKey(): Buffer {
    const identity = identityFromSeed(this.deviceSeed)
    destroyIdentity(identity)
    return identity.publicKey
  }

  /**
   * Makes the state file and the audit log agree, whatever step the last run stopped at. The audit
   * record commits each switch-on and switch-off, so the log's last session event decides:
   * - the state holds a session the log shows enabled: it resumes (or ends, if it has expired);
   * - the state holds a session the log has already ended: the end is finished (state cleared);
   * - the state holds a session the log never shows enabled: the enable stopped before it answered,
   *   nobody holds its token, and it is rolled back (audited as enable-failed);
   * - the state holds none while the log shows one enabled (the state was removed or replaced, or
   *   was an overlan 0.1/0.2 shared-key session): its key is gone with it, so it is recorded as lost.
   * A resumed session's technicians are as the state file says (their certificates and revocations
   * are what the state file holds); a decision whose audit record the last run did not write is
   * recorded now.
   */
  private async reconcile(): Promise<void> {
    const loaded = await loadState(this.config.stateDir)
    if (!loaded.ok) {
      this.log.error(`assistance state unreadable (${loaded.reason}): starting disabled`)
      await this.record('state-unreadable', { reason: loaded.reason })
      this.setDeviceSeed(newDeviceIdentity())
      await this.saveStateOf(null)
      return
    }
    this.setDeviceSeed(loaded.state.deviceIdentity)
    if (loaded.migrated !== undefined) {
      this.log.warn(loaded.migrated)
      await this.saveStateOf(null)
    }
    const stored = loaded.state.session
    const last = lastSessionEvent(await this.audit.records())
    const lastCommunity = last?.details.community
    if (stored === null) {
      if (last?.event === 'enable') {
        this.log.error(`the audit log says assistance is on (${String(lastCommunity)}) but the state holds no session: recorded as lost`)
        const reason = loaded.droppedSession === true ? loaded.migrated! : `${STATE_FILE} holds no session: the key is gone, the session cannot resume`
        await this.record('session-lost', { community: lastCommunity, reason })
        await this.hooks.sessionEnded({ sessionId: String(lastCommunity), expiresAt: Date.parse(String(last.details.expiresAt)) || null, reason: endReason('session-lost') })
      }
      return
    }
    const session = this.liveSession(stored)
    this.session = session
    if (last !== undefined && lastCommunity === session.community && SESSION_ENDS.has(last.event)) {
      // the last run may have stopped before its end hook: run it (again)
      await this.hooks.sessionEnded({ sessionId: session.community, expiresAt: session.expiresAt, reason: endReason(last.event) })
      await this.saveStateOf(null)
      this.forgetSession(session)
      this.log.info(`finished ending the assistance session (${last.event}) that the last run had recorded`)
      return
    }
    if (last?.event !== 'enable' || lastCommunity !== session.community) {
      this.log.info('the last run stopped while enabling assistance, before it answered: rolled back')
      await this.endSession('enable-failed', { reason: 'the service stopped during the enable, before recording it: rolled back at restart (nobody received its token)' })
      return
    }
    await this.recordMissedDecisions(session)
    if (session.expiresAt <= this.clock.now()) {
      await this.endSession('expire', { expiresAt: new Date(session.expiresAt).toISOString(), note: 'expired while the service was stopped' })
      this.log.info('the assistance session expired while the service was stopped: disabled')
      return
    }
    if (this.idleOver(session)) {
      await this.endNow('idle', 'idle while the service was stopped')
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

  /** Each technician's state as the state file holds it, audited if the last run stopped before it did. */
  private async recordMissedDecisions(session: LiveSession): Promise<void> {
    const records = (await this.audit.records()).filter((r) => r.event.startsWith('technician-') && r.details.session === session.community)
    for (const t of session.registry.list()) {
      const lastWord = records.findLast((r) => r.details.id === t.id && Object.values(STATE_EVENTS).includes(r.event))
      if (lastWord?.event === STATE_EVENTS[t.state]) continue
      await this.recordTechnician(session, t.id, { note: 'recorded at restart: the last run stopped after saving this and before auditing it' })
    }
  }

  private liveSession(state: SessionState): LiveSession {
    const { token, adminPassword, authority, enrollmentSecret, deviceCertificate, technicians, ...rest } = state
    const [address, prefix] = state.overlayIp.split('/') as [string, string]
    const live: LiveSession = {
      ...rest,
      secrets: new SessionSecrets({ token, adminPassword, enrollmentSecret }),
      authority: SessionAuthority.fromSeedText(authority),
      device: issuedOf(Buffer.from(deviceCertificate, 'base64')),
      registry: new TechnicianRegistry(
        {
          consent: state.consent,
          maxTechnicians: state.maxTechnicians,
          device: { address, prefix: Number(prefix) },
          now: () => this.clock.now(),
          onRequest: (record) => this.onRequest(live, record),
          onGone: (record) => this.onGone(live, record),
        },
        technicians,
      ),
    }
    return live
  }

  /** A new request (from the device edge's responder, synchronously): saved and audited in the queue; "auto" admits it. */
  private onRequest(session: LiveSession, record: TechnicianRecord): void {
    this.log.info(`technician ${JSON.stringify(record.name)} (${record.fingerprint}) asks to be admitted, from ${record.address}`)
    this.inQueue(session, 'technician request', async () => {
      await this.saveSession(session)
      await this.onStep('technician-request:state-written')
      await this.recordTechnician(session, record.id, {})
      if (session.consent !== 'auto') return
      try {
        await this.admitNow(session, record.id, 'auto')
      } catch (err) {
        // full (another was admitted meanwhile) or no longer waiting: it waits, or has gone
        if (!(err instanceof DecisionConflict)) throw err
        this.log.warn(`consent auto: technician ${record.id} not admitted: ${err.message}`)
      }
    })
  }

  private onGone(session: LiveSession, record: TechnicianRecord): void {
    this.inQueue(session, 'technician gone', async () => {
      await this.saveSession(session)
      await this.recordTechnician(session, record.id, {})
    })
  }

  /** Runs `work` in the queue if `session` is still the one running then. */
  private inQueue(session: LiveSession, what: string, work: () => Promise<void>): void {
    this.serialize(async () => {
      if (this.session === session) await work()
    }).catch((err: unknown) => this.log.error(`${what}: ${(err as Error).message}`))
  }

  private async admitNow(session: LiveSession, id: string, by: DecidedBy): Promise<void> {
    const record = session.registry.checkAdmit(id)
    if (record === undefined) throw new UnknownTechnician(`no technician ${id} in this session`)
    const memberKey = Buffer.from(record.publicKey, 'base64')
    const issued = session.authority.issue({
      role: 'technician',
      serial: session.issued + 1,
      memberKey,
      ipv4: session.registry.addressFor(memberKey),
      name: record.name,
      notBefore: this.clock.now(),
      notAfter: session.expiresAt,
    })
    session.issued++
    session.registry.admit(id, issued, by)
    try {
      await this.saveSession(session)
    } catch (err) {
      session.registry.restore(record)
      throw err
    }
    // from here the responder answers the technician's next poll with its certificate
    session.registry.saved()
    await this.onStep('technician-admitted:state-written')
    await this.recordTechnician(session, id, { by })
    this.log.info(`technician ${JSON.stringify(issued.certificate.name)} (${record.fingerprint}) admitted by ${by} as ${issued.certificate.ipv4!.address}`)
  }

  private async denyNow(session: LiveSession, id: string, by: DecidedBy): Promise<void> {
    const record = session.registry.checkWaiting(id)
    if (record === undefined) throw new UnknownTechnician(`no technician ${id} in this session`)
    session.registry.deny(id, by)
    try {
      await this.saveSession(session)
    } catch (err) {
      session.registry.restore(record)
      throw err
    }
    await this.recordTechnician(session, id, { by })
    this.log.info(`technician ${JSON.stringify(record.name)} (${record.fingerprint}) denied by ${by}`)
  }

  /** Revokes these admitted technicians' certificates and saves that (before any revocation leaves the service). */
  private async revokeAndSave(session: LiveSession, records: TechnicianRecord[], why: 'disconnected' | 'session-ended'): Promise<void> {
    const now = this.clock.now()
    for (const r of records) {
      const revocation = session.authority.revoke(issuedOf(Buffer.from(r.certificate!, 'base64')), now, why)
      session.registry.disconnect(r.id, revocation, why)
    }
    try {
      await this.saveSession(session)
    } catch (err) {
      for (const r of records) session.registry.restore(r)
      throw err
    }
  }

  /** The audit record of a technician's current state: names and fingerprints from its certificate, or from the key its request proved. */
  private async recordTechnician(session: LiveSession, id: string, extra: Record<string, unknown>): Promise<void> {
    const t = session.registry.get(id)!
    await this.record(STATE_EVENTS[t.state], {
      session: session.community,
      id,
      name: t.name,
      fingerprint: t.fingerprint,
      ...(t.certificateFingerprint !== undefined ? { certificate: t.certificateFingerprint, ip: t.ip } : {}),
      ...(t.state === 'waiting' ? { address: t.address } : {}),
      ...(t.reason !== undefined && t.state === 'disconnected' ? { reason: t.reason } : {}),
      ...extra,
    })
  }

  private liveOr404(id: string): LiveSession {
    if (this.session === null) throw new UnknownTechnician(`no technician ${id}: assistance is off`)
    return this.session
  }

  private async runSession(session: LiveSession): Promise<void> {
    const [address, prefix] = session.overlayIp.split('/') as [string, string]
    const edge = await this.startEdge({
      certificate: session.device.bytes,
      identity: this.deviceSeed,
      mac: parseMac(session.deviceMac)!,
      supernodes: this.config.supernodes,
      fallbacks: this.config.fallbacks ?? [],
      overlay: { address, prefix: Number(prefix) },
      // the edge stops on its own at expiry too, even if this service were wedged
      expiresAt: session.expiresAt,
      revocations: session.registry.revocations(),
      enrollment: { secret: session.secrets.enrollmentSecret, decider: session.registry },
      ...(session.allow !== null ? { allow: parseAllow(session.allow) } : {}),
    })
    this.edge = edge
    // unknown (a format-3 session): counted from now, as before format 4
    session.lastTraffic ??= this.clock.now()
    this.trafficSavedAt = this.clock.now()
    this.trafficChanged = false
    this.rxFrames.clear()
    // what the last run counted goes on from where it was saved
    this.ledger = new TechnicianLedger(session.registry.list().flatMap((r) => (r.traffic !== undefined ? [[r.id, r.traffic] as const] : [])))
    const expire = (): void => {
      this.serialize(() => this.endNow('expire')).catch((err: unknown) => this.log.error(`expiry: ${(err as Error).message}`))
    }
    edge.onStopped((why) => {
      if (this.edge === edge && why === 'expired') expire()
    })
    // on the wall clock: a system suspend must not stretch the session (deadline.ts)
    this.expiryTimer = deadline(this.clock, session.expiresAt, expire)
    this.presenceTimer = this.clock.every(PRESENCE_CHECK_MS, () => {
      session.registry.sweep()
      this.sampleTraffic(session)
      this.checkPresence().catch((err: unknown) => this.log.error(`technician audit: ${(err as Error).message}`))
      this.checkIdle(session)
      this.saveTraffic(session)
    })
  }

  /** Counts each admitted technician's traffic as the device edge shows it now (its peers, by edge ID). */
  private sampleTraffic(session: LiveSession): void {
    const peers = new Map((this.edge?.status().peers ?? []).map((p) => [p.id, p]))
    const samples: TechnicianSample[] = []
    for (const r of session.registry.list()) {
      const p = r.state === 'admitted' ? peers.get(edgeIdOfRecord(r)) : undefined
      if (p !== undefined) samples.push({ id: r.id, lastSeenMs: p.lastSeenMs, rxBytes: p.rxBytes, txBytes: p.txBytes })
    }
    if (this.ledger.observe(this.clock.now(), samples)) this.trafficChanged = true
  }

  /** Saves the session's traffic (in the queue, as every state change) when it changed and TRAFFIC_SAVE_MS have passed. */
  private saveTraffic(session: LiveSession): void {
    const now = this.clock.now()
    if (!this.trafficChanged || now - this.trafficSavedAt < TRAFFIC_SAVE_MS) return
    this.trafficSavedAt = now
    this.trafficChanged = false
    this.inQueue(session, "saving the session's traffic", () => this.saveSession(session))
  }

  private idleOver(session: LiveSession): boolean {
    return session.idleMinutes > 0 && session.lastTraffic !== null && this.clock.now() - session.lastTraffic >= session.idleMinutes * 60_000
  }

  /** Ends the session when no technician has sent a frame for idleMinutes (keepalives and probes are not frames). */
  private checkIdle(session: LiveSession): void {
    const status = this.edge?.status()
    const now = this.clock.now()
    for (const p of status?.peers ?? []) {
      if (p.rxPackets > (this.rxFrames.get(p.id) ?? 0)) {
        session.lastTraffic = now
        this.trafficChanged = true
      }
      this.rxFrames.set(p.id, p.rxPackets)
    }
    if (!this.idleOver(session)) return
    this.serialize(async () => {
      if (this.session === session) await this.endNow('idle')
    }).catch((err: unknown) => this.log.error(`idle timeout: ${(err as Error).message}`))
  }

  private async endNow(event: 'expire' | 'idle', note?: string): Promise<void> {
    const session = this.session
    if (session === null) return
    const noted = note !== undefined ? { note } : {}
    if (event === 'expire') await this.endSession('expire', { expiresAt: new Date(session.expiresAt).toISOString(), ...noted })
    else await this.endSession('idle', { idleMinutes: session.idleMinutes, lastTraffic: new Date(session.lastTraffic ?? this.clock.now()).toISOString(), ...noted })
    this.log.info(event === 'idle' ? `no technician sent anything for ${session.idleMinutes} min: assistance switched off` : 'assistance expired: disabled')
  }

  /**
   * Steps: revoke every admitted technician (saved, then handed to the edge, which sends the
   * revocations to the supernodes), stop the edge, record the end (which commits it), then clear
   * the state file.
   */
  private async endSession(event: EndEvent, details: Record<string, unknown>): Promise<void> {
    const session = this.session!
    await this.onStep(`${event}:begin`)
    this.stopTimers()
    session.registry.close()
    const edge = this.edge
    this.sampleTraffic(session)
    session.registry.setTraffic(this.ledger.all())
    // the receipt first, while the technicians are still peers of the edge: it carries each one's
    // copy through its pair session, which the revocations below end at once
    const receipt = await this.receipts.end({ sessionId: session.community, since: session.since, identitySeed: this.deviceSeed, technicians: session.registry.list(), deliver: edge?.deliverReceipt ? (text, timeoutMs) => edge.deliverReceipt!(text, timeoutMs) : undefined }, event)
    const admitted = session.registry.list().filter((r) => r.state === 'admitted')
    if (admitted.length > 0) {
      await this.revokeAndSave(session, admitted, 'session-ended')
      this.edge?.setRevocations(session.registry.revocations())
      await delay(REVOCATION_FLUSH_MS)
    }
    await this.onStep(`${event}:revoked`)
    this.edge = null
    await edge?.stop(event === 'expire' ? 'expired' : 'disabled').catch(() => {})
    await this.onStep(`${event}:edge-stopped`)
    for (const r of admitted) await this.recordTechnician(session, r.id, {})
    for (const [id, t] of this.present) await this.record('technician-left', { session: session.community, edgeId: id, ...whoFields(t), endpoint: t.endpoint, reason: event === 'expire' ? 'session expired' : 'session ended' })
    this.present.clear()
    await this.record(event, { community: session.community, ...details, ...receipt })
    await this.onStep(`${event}:recorded`)
    // before the state is cleared: a restart that finds the end recorded runs it again (at least once)
    await this.hooks.sessionEnded({ sessionId: session.community, expiresAt: session.expiresAt, reason: endReason(event) })
    await this.saveStateOf(null)
    this.forgetSession(session)
    await this.onStep(`${event}:state-written`)
  }

  /** The service's copies of the session's keys, token, enrollment secret and admin password are zeroed with it. */
  private forgetSession(session: LiveSession): void {
    this.destroySecrets(session)
    this.session = null
    this.ledger = new TechnicianLedger()
  }

  private destroySecrets(session: LiveSession): void {
    session.secrets.destroy()
    session.authority.destroy()
  }

  private setDeviceSeed(text: string): void {
    const raw = Buffer.from(text, 'base64')
    this.deviceSeed = secretMemory.copyOf(raw)
    destroySecret(raw)
    this.deviceFingerprint = keyFingerprint(this.deviceKey())
  }

  private saveSession(session: LiveSession): Promise<void> {
    session.registry.setTraffic(this.ledger.all())
    return this.saveStateOf({
      community: session.community,
      since: session.since,
      expiresAt: session.expiresAt,
      adminAccess: session.adminAccess,
      adminPassword: session.secrets.adminPasswordText(),
      overlayIp: session.overlayIp,
      deviceMac: session.deviceMac,
      token: session.secrets.tokenText(),
      authority: session.authority.seedText(),
      enrollmentSecret: session.secrets.enrollmentSecretText(),
      deviceCertificate: session.device.bytes.toString('base64'),
      consent: session.consent,
      maxTechnicians: session.maxTechnicians,
      idleMinutes: session.idleMinutes,
      lastTraffic: session.lastTraffic,
      allow: session.allow,
      issued: session.issued,
      technicians: session.registry.list(),
    })
  }

  private saveStateOf(session: SessionState | null): Promise<void> {
    return saveState(this.config.stateDir, { version: STATE_VERSION, deviceIdentity: this.deviceSeed.toString('base64'), session })
  }

  private stopTimers(): void {
    this.expiryTimer?.cancel()
    this.presenceTimer?.cancel()
    this.expiryTimer = null
    this.presenceTimer = null
  }

  /** Audits peers joining and leaving (by who the edge hears from). */
  private async checkPresence(): Promise<void> {
    const edge = this.edge
    const session = this.session
    if (edge === null || session === null) return
    const now = this.clock.now()
    const peers = edge.status().peers
    const byEdgeId = new Map(session.registry.list().filter((r) => r.state === 'admitted').map((r) => [edgeIdOfRecord(r), r.id]))
    const here = new Map(peers.filter((p) => p.lastSeenMs < TECHNICIAN_GONE_MS).map((p) => [p.id, p]))
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
      await this.record('technician-joined', { session: session.community, id: byEdgeId.get(id) ?? id, edgeId: id, ...whoFields(who), endpoint: p.endpoint, path: p.path })
      this.log.info(`technician ${id}${p.name ? ` (${p.name})` : ''}${who.fingerprint !== null ? ` certificate ${who.fingerprint}` : ''} joined from ${p.endpoint ?? 'the relay'}`)
    }
    for (const [id, t] of this.present) {
      if (here.has(id)) continue
      this.present.delete(id)
      await this.record('technician-left', { session: session.community, edgeId: id, ...whoFields(t), endpoint: t.endpoint })
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
      deviceFingerprint: this.deviceFingerprint,
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

/** What the audit log records of who a peer is: its certificate's name (if any) and fingerprint. */
function whoFields(who: { name: string; fingerprint: string | null }): Record<string, string> {
  return { ...(who.name ? { name: who.name } : {}), ...(who.fingerprint !== null ? { certificate: who.fingerprint } : {}) }
}

/** A random 256-bit bearer token for the API, as text. */
export function newApiToken(): string {
  return randomBytes(32).toString('base64url')
}
