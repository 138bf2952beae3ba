// The assistance service's HTTP API and console, on Koa: a few routes as plain functions, checked
// at the edge. A monitoring GUI calls it with the bearer token; the console page logs in with the
// token once and then uses an HttpOnly, SameSite=Strict cookie, its changes guarded by Origin.
// In front of the routes: the Host check (DNS rebinding); failed logins are slowed down and locked
// per presented token (login-guard.ts), so a valid token is always answered at once.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import Koa, { type Context } from 'koa'
import { hostCheck } from '../http/host-check.js'
import type { Clock } from '../time/clock.js'
import { AUDIT_EVENT_LABELS, CONSOLE_CONSTANTS_PATH, consoleConstantsModule } from './console-constants.js'
import { EventStreams, MAX_EVENT_STREAMS } from './event-stream.js'
import { nestsDeeperThan } from './json-depth.js'
import { SessionHookFailed } from './hooks.js'
import { LOGIN_LOCK_MS, LoginGuard } from './login-guard.js'
import { parseAllow } from '../edge/allow-filter.js'
import { listReceipts } from './receipt-store.js'
import { MAX_DURATION_SECONDS, MAX_IDLE_MINUTES, PRESENCE_CHECK_MS, UnknownTechnician, type AssistanceService } from './service.js'
import { DEFAULT_MAX_TECHNICIANS, DecisionConflict, MAX_TECHNICIANS_LIMIT, type Consent } from './technicians.js'

export const SESSION_COOKIE = 'overlan_session'
export const SESSION_TTL_MS = 12 * 3600_000
export const MAX_BODY_BYTES = 4096
/** The API's bodies are flat objects (depth 1); room to grow, and far from anything a parser or a walk of the value would choke on. */
export const MAX_JSON_DEPTH = 8
/** The command-line option that adds a name the console and API answer to. */
export const HOST_NAME_OPTION = '--host-name'

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message)
  }
}

export interface ApiOptions {
  apiToken: string
  webDir: string
  service: AssistanceService
  clock: Clock
  /** the listen host as configured, and further names (Host header) to answer to */
  listenHost: string
  hostNames?: readonly string[]
}

type Auth = 'bearer' | 'cookie'

/** A technician request's ID in /api/technicians/:id (technicians.ts makes 12 hex digits). */
const TECHNICIAN_ROUTE = /^\/api\/technicians\/([^/]+)$/
/** The allow rules' text as `overlan edge --allow` takes it: short, and parsed before anything is stored. */
const MAX_ALLOW_CHARS = 256

export function createApi(options: ApiOptions): Koa {
  const { service, clock } = options
  const tokenDigest = digest(options.apiToken)
  const sessions = new Map<string, number>()
  const guard = new LoginGuard(clock)
  const checkHost = hostCheck({ listenHost: options.listenHost, names: options.hostNames ?? [], option: HOST_NAME_OPTION })
  const files = loadStaticFiles(options.webDir)
  files.set(CONSOLE_CONSTANTS_PATH, {
    type: CONTENT_TYPES['.js']!,
    body: Buffer.from(consoleConstantsModule({ maxDurationSeconds: MAX_DURATION_SECONDS, presenceCheckMs: PRESENCE_CHECK_MS, loginLockSeconds: LOGIN_LOCK_MS / 1000, auditEventLabels: AUDIT_EVENT_LABELS })),
  })
  const events = new EventStreams(() => service.status(), clock)
  const app = new Koa()
  app.proxy = false

  /** A token that is not the API token: audited, answered 401 after a delay, or 429 at once (login-guard.ts). */
  const refuseToken = async (ctx: Context, presented: string, why: string, message: string): Promise<never> => {
    const verdict = guard.fail(presented)
    if (verdict.kind !== 'failed') {
      ctx.set('retry-after', String(verdict.retryAfterSeconds))
      throw new HttpError(429, verdict.kind === 'locked' ? 'this token failed too often: wait a minute (other tokens are not affected)' : 'too many failed logins at once: try again in a second')
    }
    const client = ctx.request.socket.remoteAddress ?? 'unknown'
    await service.record('login-failed', { client, why, failures: verdict.failures, ...(verdict.refusedWhileBusy > 0 ? { refusedWhileBusy: verdict.refusedWhileBusy } : {}) })
    await verdict.answer
    throw new HttpError(401, message)
  }

  /** Who is calling: the bearer token or a console session; otherwise 401 (or 429 for a token that keeps failing). */
  const authenticate = async (ctx: Context): Promise<Auth> => {
    const header = ctx.get('authorization')
    if (header !== '') {
      const match = /^Bearer (.+)$/.exec(header)
      if (match && safeEqual(digest(match[1]!), tokenDigest)) return 'bearer'
      return refuseToken(ctx, match?.[1] ?? header, 'bad bearer token', 'bad API token')
    }
    const id = ctx.cookies.get(SESSION_COOKIE)
    const expires = id !== undefined ? sessions.get(id) : undefined
    if (id !== undefined && expires !== undefined && expires > clock.now()) return 'cookie'
    if (id !== undefined) sessions.delete(id)
    throw new HttpError(401, 'log in first: send Authorization: Bearer <token> (the token is in the state directory, file api-token)')
  }

  /** A state change from the console must come from the console's own page (CSRF). */
  const checkOrigin = (ctx: Context, auth: Auth): void => {
    if (auth === 'bearer') return
    const origin = ctx.get('origin')
    if (origin !== `${ctx.protocol}://${ctx.host}` || ctx.get('sec-fetch-site') === 'cross-site') throw new HttpError(403, 'cross-site request refused (Origin does not match)')
  }

  app.use(async (ctx, next) => {
    ctx.set(SECURITY_HEADERS)
    try {
      await next()
    } catch (err) {
      if (err instanceof HttpError) {
        ctx.status = err.status
        ctx.body = err.field ? { error: err.message, field: err.field } : { error: err.message }
      } else {
        ctx.status = 500
        ctx.body = { error: 'internal error' }
        ctx.app.emit('error', err, ctx)
      }
    }
    if (ctx.path.startsWith('/api/')) ctx.set('cache-control', 'no-store')
  })

  // before any route: a request whose Host names someone else is a DNS rebinding attempt
  app.use(async (ctx, next) => {
    const host = checkHost(ctx.get('host') || undefined, ctx.request.socket.localAddress)
    if (!host.ok) throw new HttpError(host.status, host.error)
    await next()
  })

  /** POST /api/technicians/:id {"admit": bool} decides a waiting request; DELETE disconnects an admitted technician. */
  const technicianRoute = async (ctx: Context, id: string): Promise<void> => {
    if (ctx.method !== 'POST' && ctx.method !== 'DELETE') throw new HttpError(405, `no such API call: ${ctx.method} ${ctx.path} (POST to decide, DELETE to disconnect)`)
    const auth = await authenticate(ctx)
    checkOrigin(ctx, auth)
    const by = auth === 'bearer' ? 'api' : 'console'
    try {
      if (ctx.method === 'DELETE') {
        ctx.body = await service.disconnect(id, by)
        return
      }
      const body = await readJson(ctx)
      for (const field of Object.keys(body)) if (field !== 'admit') throw new HttpError(400, `unknown field: ${field}`, field)
      if (typeof body.admit !== 'boolean') throw new HttpError(400, 'admit must be true or false', 'admit')
      ctx.body = await service.decide(id, body.admit, by)
    } catch (err) {
      if (err instanceof UnknownTechnician) throw new HttpError(404, err.message)
      if (err instanceof DecisionConflict) throw new HttpError(409, err.message)
      throw err
    }
  }

  app.use(async (ctx) => {
    const route = `${ctx.method} ${ctx.path}`
    switch (route) {
      case 'GET /healthz':
      case 'HEAD /healthz':
        ctx.body = { ok: true }
        return
      case 'POST /api/login': {
        const body = await readJson(ctx)
        if (typeof body.token !== 'string') throw new HttpError(400, 'token must be a string', 'token')
        if (!safeEqual(digest(body.token), tokenDigest)) await refuseToken(ctx, body.token, 'bad token at login', 'wrong token')
        const id = randomBytes(32).toString('base64url')
        sessions.set(id, clock.now() + SESSION_TTL_MS)
        ctx.cookies.set(SESSION_COOKIE, id, { httpOnly: true, sameSite: 'strict', path: '/', maxAge: SESSION_TTL_MS, overwrite: true })
        ctx.body = { ok: true }
        return
      }
      case 'POST /api/logout': {
        const id = ctx.cookies.get(SESSION_COOKIE)
        if (id !== undefined) sessions.delete(id)
        ctx.cookies.set(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'strict', path: '/', maxAge: 0 })
        ctx.body = { ok: true }
        return
      }
      case 'GET /api/assistance':
        await authenticate(ctx)
        ctx.body = service.status()
        return
      case 'POST /api/assistance': {
        checkOrigin(ctx, await authenticate(ctx))
        const request = parseAssistanceRequest(await readJson(ctx))
        if (!request.enabled) {
          await service.disable()
          ctx.body = { enabled: false }
          return
        }
        try {
          ctx.body = await service.enable(request)
        } catch (err) {
          if (err instanceof SessionHookFailed) throw new HttpError(503, err.message)
          throw new HttpError(503, `cannot start the device's edge: ${(err as Error).message}`)
        }
        return
      }
      case 'POST /api/connection-test':
        checkOrigin(ctx, await authenticate(ctx))
        ctx.body = await service.connectionTest()
        return
      case 'GET /api/audit':
        await authenticate(ctx)
        ctx.body = await service.auditRecords()
        return
      case 'GET /api/receipts':
        await authenticate(ctx)
        ctx.body = await listReceipts(service.config.stateDir)
        return
      case 'GET /api/technicians':
        await authenticate(ctx)
        ctx.body = service.technicians()
        return
      case 'GET /api/events': {
        // a console session's stream ends with its login (logout, or its 12 hours)
        const session = (await authenticate(ctx)) === 'cookie' ? ctx.cookies.get(SESSION_COOKIE)! : null
        const stillAllowed = session === null ? null : () => (sessions.get(session) ?? 0) > clock.now()
        if (!events.start(ctx, stillAllowed)) throw new HttpError(429, `${MAX_EVENT_STREAMS} event streams are open already: close one, or poll GET /api/assistance`)
        return
      }
    }
    const technician = TECHNICIAN_ROUTE.exec(ctx.path)
    if (technician !== null) {
      await technicianRoute(ctx, technician[1]!)
      return
    }
    if (ctx.method === 'GET' || ctx.method === 'HEAD') {
      const file = files.get(ctx.path === '/' ? '/index.html' : ctx.path)
      if (file !== undefined) {
        ctx.type = file.type
        ctx.body = file.body
        return
      }
    }
    if (ctx.path.startsWith('/api/')) throw new HttpError(ctx.method === 'GET' || ctx.method === 'POST' ? 404 : 405, `no such API call: ${ctx.method} ${ctx.path}`)
    throw new HttpError(404, 'not found')
  })
  return app
}

export interface AssistanceRequest {
  enabled: boolean
  durationSeconds: number
  adminAccess: boolean
  consent: Consent
  maxTechnicians: number
  idleMinutes: number
  /** `overlan edge --allow` rules as given, or null (everything addressed to the device, as before) */
  allow: string | null
}

const ENABLE_FIELDS = ['durationSeconds', 'adminAccess', 'consent', 'maxTechnicians', 'idleMinutes', 'allow']

/** The body of POST /api/assistance, checked field by field; a refusal names the field. */
export function parseAssistanceRequest(body: Record<string, unknown>): AssistanceRequest {
  for (const field of Object.keys(body)) {
    if (field !== 'enabled' && !ENABLE_FIELDS.includes(field)) throw new HttpError(400, `unknown field: ${field}`, field)
  }
  if (typeof body.enabled !== 'boolean') throw new HttpError(400, 'enabled must be true or false', 'enabled')
  if (!body.enabled) {
    for (const field of ENABLE_FIELDS) if (field in body) throw new HttpError(400, `${field} goes only with "enabled": true`, field)
    return { enabled: false, durationSeconds: 0, adminAccess: false, consent: 'auto', maxTechnicians: DEFAULT_MAX_TECHNICIANS, idleMinutes: 0, allow: null }
  }
  const duration = body.durationSeconds ?? MAX_DURATION_SECONDS
  if (!isIntegerIn(duration, 1, MAX_DURATION_SECONDS)) throw new HttpError(400, `durationSeconds must be an integer from 1 to ${MAX_DURATION_SECONDS}`, 'durationSeconds')
  const adminAccess = body.adminAccess ?? false
  if (typeof adminAccess !== 'boolean') throw new HttpError(400, 'adminAccess must be true or false', 'adminAccess')
  // absent means "auto", so that integrations written before consent keep working
  const consent = body.consent ?? 'auto'
  if (consent !== 'ask' && consent !== 'auto') throw new HttpError(400, 'consent must be "ask" or "auto"', 'consent')
  const maxTechnicians = body.maxTechnicians ?? DEFAULT_MAX_TECHNICIANS
  if (!isIntegerIn(maxTechnicians, 1, MAX_TECHNICIANS_LIMIT)) throw new HttpError(400, `maxTechnicians must be an integer from 1 to ${MAX_TECHNICIANS_LIMIT}`, 'maxTechnicians')
  const idleMinutes = body.idleMinutes ?? 0
  if (!isIntegerIn(idleMinutes, 0, MAX_IDLE_MINUTES)) throw new HttpError(400, `idleMinutes must be an integer from 0 (off) to ${MAX_IDLE_MINUTES}`, 'idleMinutes')
  const allow = body.allow ?? null
  if (allow !== null) {
    if (typeof allow !== 'string' || allow.length > MAX_ALLOW_CHARS) throw new HttpError(400, `allow must be a string of at most ${MAX_ALLOW_CHARS} characters, e.g. "tcp/22,tcp/443,icmp"`, 'allow')
    if (allow.trim() === '') throw new HttpError(400, 'allow must name at least one rule, e.g. "tcp/22,icmp" (leave it out for everything addressed to the device)', 'allow')
    try {
      parseAllow(allow)
    } catch (err) {
      // parseAllow names the bad item as the CLI's option: here it is the field
      throw new HttpError(400, (err as Error).message.replace(/^--allow: /, 'allow: '), 'allow')
    }
  }
  return { enabled: true, durationSeconds: duration as number, adminAccess, consent, maxTechnicians: maxTechnicians as number, idleMinutes: idleMinutes as number, allow }
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
}

/** A JSON object body of at most MAX_BODY_BYTES, nested MAX_JSON_DEPTH deep at most; 415, 413 or 400 otherwise. */
async function readJson(ctx: Context): Promise<Record<string, unknown>> {
  if (!ctx.is('application/json')) throw new HttpError(415, 'send JSON (Content-Type: application/json)')
  const declared = Number(ctx.get('content-length') || 0)
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, `the body is larger than ${MAX_BODY_BYTES} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `the body is larger than ${MAX_BODY_BYTES} bytes`)
    chunks.push(chunk)
  }
  return parseJsonBody(Buffer.concat(chunks).toString('utf8'))
}

/** A body's text as a JSON object: its depth checked before it is parsed; 400 naming the problem otherwise. */
export function parseJsonBody(text: string): Record<string, unknown> {
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw new HttpError(400, `the body nests arrays or objects deeper than ${MAX_JSON_DEPTH} levels`)
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new HttpError(400, 'the body is not valid JSON')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'the body must be a JSON object')
  return body as Record<string, unknown>
}

/** The console's files, read once: only these exact paths are ever served (no path reaches the disk). */
function loadStaticFiles(dir: string): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>()
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name)]
    if (type !== undefined) files.set(`/${name}`, { type, body: readFileSync(join(dir, name)) })
  }
  return files
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}
