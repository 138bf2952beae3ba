// `overlan edge --join-file FILE` (or OVERLAN_JOIN, or --join TOKEN): a technician asks the device's
// owner for admission with an ovl2 join token (src/edge/enrollment-client.ts), shows how long it
// has waited, and once admitted runs as an edge of the device's community with the certificate it
// received. Denied, closed, switched off, disconnected or expired: one line and a non-zero exit.
import { statSync, readFileSync } from 'node:fs'
import { hostname, userInfo } from 'node:os'
import { decodeJoinTokenV2, JOIN_TOKEN_V2_PREFIX, type JoinTokenV2 } from '../assist/join-token.js'
import { destroyIdentity, generateIdentity, type Identity } from '../crypto/identity.js'
import { openWebSocketCarrier, type EdgeConfig, type FallbackOptions } from '../edge/edge.js'
import type { OpenEnrollmentFallback } from '../edge/enrollment-carrier.js'
import { EnrollmentClient, type EnrollmentOutcome } from '../edge/enrollment-client.js'
import { CERTIFICATE_REFUSED, REVOKED_DISCONNECTED, REVOKED_SESSION_ENDED } from '../edge/registration.js'
import type { Logger } from '../log/logger.js'
import { bindUdp } from '../net/bind.js'
import { systemClock } from '../time/clock.js'
import { MAX_ENROLL_NAME_BYTES, decodeCertificate, ipFamily, isValidName } from '../wire/index.js'
import { CliError, EXIT_DENIED, EXIT_SESSION_OVER } from './errors.js'
import { fallbackProxies, withFallbacks } from './options.js'

/** How often the waiting line is written when stderr is not a terminal (a terminal gets it refreshed every second). */
export const WAITING_LINE_EVERY_MS = 5000

export const JOIN_ON_COMMAND_LINE_WARNING = 'warning: a join token on the command line is visible to other local users (ps, /proc) and stays in the shell history: prefer --join-file FILE or OVERLAN_JOIN'

export interface JoinSource {
  /** the token's text */
  text: string
  /** where it came from, for messages: "--join-file FILE", "OVERLAN_JOIN", "--join" */
  from: string
  /** lines to print before anything else (the --join warning, a world-readable file) */
  warnings: string[]
}

/**
 * Where the technician's token is, if any: --join-file, else OVERLAN_JOIN, else --join (with its
 * warning). Null when none is an ovl2 token (an ovl1 --join takes the shared-key path of edge.ts).
 */
export function joinSource(args: { join?: string; 'join-file'?: string }, env: NodeJS.ProcessEnv): JoinSource | null {
  const given = [args.join !== undefined, args['join-file'] !== undefined].filter(Boolean).length
  if (given > 1) throw new CliError('give the join token once: --join-file FILE (or OVERLAN_JOIN), or --join TOKEN')
  const file = args['join-file']
  if (file !== undefined) {
    let text: string
    let mode: number
    try {
      text = readFileSync(file, 'utf8')
      mode = statSync(file).mode
    } catch (err) {
      throw new CliError(`--join-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    // the token lets its holder ask to be admitted: a file anyone on the host can read gives that away
    const warnings = (mode & 0o004) !== 0 ? [`warning: --join-file ${file} can be read by every user of this host: chmod 600 ${file}`] : []
    return { text: text.trim(), from: `--join-file ${file}`, warnings }
  }
  if (args.join !== undefined) {
    if (!args.join.trim().startsWith(JOIN_TOKEN_V2_PREFIX)) return null
    return { text: args.join, from: '--join', warnings: [JOIN_ON_COMMAND_LINE_WARNING] }
  }
  const fromEnv = env.OVERLAN_JOIN
  if (fromEnv !== undefined && fromEnv.trim() !== '') return { text: fromEnv, from: 'OVERLAN_JOIN', warnings: [] }
  return null
}

export interface JoinPlan {
  token: JoinTokenV2
  name: string
  /** --identity's key, or null: a fresh one, kept in memory only */
  identityFile: string | null
}

/** Checks the token and the options that go with it; every refusal is one line naming what to fix. */
export function joinPlan(source: JoinSource, args: { name?: string; identity?: string; community?: string; key?: string; 'key-file'?: string; cert?: string; address?: string }, now: number): JoinPlan {
  if (args.community !== undefined || args.key !== undefined || args['key-file'] !== undefined || args.cert !== undefined || args.address !== undefined) {
    throw new CliError(`${source.from}: the token carries the session: give no -c, -k, --key-file, --cert or -a with it`)
  }
  let token: JoinTokenV2
  try {
    token = decodeJoinTokenV2(source.text)
  } catch (err) {
    throw new CliError(`${source.from}: ${(err as Error).message}`)
  }
  if (token.expiresAt <= now) throw new CliError(`${source.from}: this session expired at ${new Date(token.expiresAt).toISOString()}; ask for a new token`)
  const name = args.name ?? defaultName()
  if (name === '' || Buffer.byteLength(name) > MAX_ENROLL_NAME_BYTES || !isValidName(name, MAX_ENROLL_NAME_BYTES)) {
    throw new CliError(`--name: 1 to ${MAX_ENROLL_NAME_BYTES} bytes of text without control characters`)
  }
  return { token, name, identityFile: args.identity ?? null }
}

/** user@host, as the owner will see it when no --name is given. */
function defaultName(): string {
  let user = 'technician'
  try {
    user = userInfo().username
  } catch {
    // no passwd entry for this uid (a container): the generic name will do
  }
  return `${user}@${hostname()}`.slice(0, MAX_ENROLL_NAME_BYTES)
}

/** How a technician reaches the token's supernodes: for the enrollment and the admitted edge alike. */
export interface JoinReach {
  /** the token's supernodes, each with its fallback URL or null */
  supernodes: EdgeConfig['supernodes']
  /** how fallbacks are opened: --ca-file's CA, HTTPS_PROXY */
  fallback: FallbackOptions
}

/**
 * The token's fallback URLs paired with its supernodes (wss:// only; ws:// too with
 * --insecure-fallback), opened with --ca-file's CA (undefined: the system's) through HTTPS_PROXY.
 * `fallbacks` (--fallback) replaces the token's URLs: a technician who knows another way to the
 * supernode (its company's TLS proxy, a token made without one), checked as strictly as the token's.
 */
export function joinReach(plan: JoinPlan, options: { insecure: boolean; ca: string | undefined; fallbacks?: string[] }, env: NodeJS.ProcessEnv): JoinReach {
  const given = options.fallbacks ?? []
  const urls = given.length > 0 ? given : plan.token.fallbacks.filter((url) => options.insecure || url.startsWith('wss:'))
  if (options.ca !== undefined && !urls.some((url) => url.startsWith('wss:'))) throw new CliError("--ca-file checks the fallback's certificate: this join token carries no wss:// fallback URL (give one with --fallback)")
  const supernodes = withFallbacks(plan.token.supernodes, urls, options.insecure)
  return { supernodes, fallback: { ca: options.ca, proxy: fallbackProxies(supernodes.map((s) => s.fallback), env) } }
}

/** The waiting line: "waiting for the device's owner to admit you… (12 s)". */
export function waitingLine(sinceMs: number): string {
  return `waiting for the device's owner to admit you… (${Math.floor(sinceMs / 1000)} s)`
}

/**
 * Asks until the owner decides, over UDP or, where UDP gets no answer, the supernodes' fallbacks.
 * Admitted: the certificate (the caller starts the edge with it). Anything else throws the
 * CliError with its one line and exit code.
 */
export async function enroll(plan: JoinPlan, identity: Identity, logger: Logger, reach: JoinReach, out: NodeJS.WriteStream = process.stderr): Promise<Buffer> {
  const v6 = plan.token.supernodes.some((s) => ipFamily(s.host) === 6)
  const transport = await bindUdp({ address: v6 ? '::' : '0.0.0.0', port: 0 })
  const fallbacks = reach.supernodes.map((s) => s.fallback ?? null)
  const openFallback: OpenEnrollmentFallback = (url, drop) => openWebSocketCarrier(url, reach.fallback, drop)
  const client = new EnrollmentClient({ token: plan.token, identity, name: plan.name, fallbacks }, { transport, clock: systemClock, openFallback })
  let lastLineAt = -Infinity
  client.on('waiting', (sinceMs) => {
    if (out.isTTY) {
      out.write(`\r${waitingLine(sinceMs)}`)
    } else if (sinceMs - lastLineAt >= WAITING_LINE_EVERY_MS || lastLineAt === -Infinity) {
      lastLineAt = sinceMs
      out.write(`${waitingLine(sinceMs)}\n`)
    }
  })
  client.on('notice', (line) => logger.warn(line))
  logger.info(`asking the device "${plan.token.deviceName}" to admit "${plan.name}"`)
  let outcome: EnrollmentOutcome
  try {
    outcome = await client.run()
  } finally {
    if (out.isTTY) out.write('\n')
    await transport.close()
  }
  if (outcome.state === 'admitted') return outcome.certificate
  destroyIdentity(identity)
  switch (outcome.state) {
    case 'denied':
      throw new CliError("the device's owner denied the request", EXIT_DENIED)
    case 'closed':
      throw new CliError("the device's owner admits no more technicians now (the session is full or ending)", EXIT_SESSION_OVER)
    case 'expired':
      throw new CliError('the assistance session expired', EXIT_SESSION_OVER)
  }
}

/** The technician's identity: --identity's, or a fresh one that lives in memory only. */
export function joinIdentity(plan: JoinPlan, read: (option: string, path: string) => Identity): Identity {
  return plan.identityFile === null ? generateIdentity() : read('--identity', plan.identityFile)
}

/** The edge the admitted technician runs: the device's community, by the certificate received, through the supernodes and fallbacks of `reach`. */
export function admittedConfig(plan: JoinPlan, identity: Identity, certificate: Buffer, common: Pick<EdgeConfig, 'relayOnly' | 'mgmt' | 'bind' | 'allow' | 'sessionLimits'>, reach: JoinReach): EdgeConfig {
  const decoded = decodeCertificate(certificate)
  // the device's service issued it: a certificate that does not decode is the device's bug, said plainly
  if (!decoded.ok) throw new CliError(`the device sent a certificate that does not decode (${decoded.reason})`, EXIT_SESSION_OVER)
  return {
    ...common,
    identity,
    certificate,
    supernodes: reach.supernodes,
    fallback: reach.fallback,
    overlay: decoded.value.ipv4,
    expiresAt: Math.min(plan.token.expiresAt, decoded.value.notAfter * 1000),
    announce: true,
  }
}

/** The line an admitted technician's edge ends with, by why it stopped (C1 of the consent contract), and its exit code. */
export function stoppedLine(why: string): { line: string | null; code: number } {
  switch (why) {
    case REVOKED_DISCONNECTED:
      return { line: "disconnected by the device's owner", code: EXIT_SESSION_OVER }
    case REVOKED_SESSION_ENDED:
      return { line: 'the assistance session was switched off', code: EXIT_SESSION_OVER }
    case 'expired':
      return { line: 'the assistance session expired', code: EXIT_SESSION_OVER }
    case CERTIFICATE_REFUSED:
      return { line: "the supernode refuses this technician's certificate (revoked or expired): the session is over for this edge", code: EXIT_SESSION_OVER }
    default:
      return { line: null, code: 0 }
  }
}
