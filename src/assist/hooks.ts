// The integrator's session hooks (`overlan assist --on-session-start CMD --on-session-end CMD`): a
// shell command run with the session's facts in its environment, so that an admin account (or any
// grant) is made in the integrator's own system when a session starts and removed when it ends.
// A start hook that fails or overruns refuses the session (the service switches it off again); an
// end hook runs at least once for every session that ends, also one found over after a crash and
// restart, so it must tolerate running again, or after a start hook that never ran. Each is killed
// (its whole process group) after HOOK_TIMEOUT_MS, and every run is audited.
import { spawn } from 'node:child_process'
import type { Logger } from '../log/logger.js'
import type { Clock } from '../time/clock.js'
import type { AuditEvent } from './audit-log.js'

/** A hook still running after this is killed: a session never waits longer to start or end. */
export const HOOK_TIMEOUT_MS = 30_000
/** The end of a hook's output kept for the log and the failure line. */
const OUTPUT_TAIL_BYTES = 2048

export interface HookCommands {
  onSessionStart?: string
  onSessionEnd?: string
}

export type HookOutcome = { ok: true } | { ok: false; reason: string }

export interface HookDeps {
  /** the environment hooks start from (the CLI passes its own); the session's facts are added */
  env: Readonly<Record<string, string | undefined>>
  clock: Clock
  log: Logger
  record(event: AuditEvent, details: Record<string, unknown>): Promise<unknown>
}

/** A start hook refused the session: the message is the one line the API and the console show. */
export class SessionHookFailed extends Error {}

export interface SessionFacts {
  sessionId: string
  /** ms since the epoch, or null when it is not known any more (a session lost with its state) */
  expiresAt: number | null
}

export class SessionHooks {
  constructor(
    private readonly commands: HookCommands,
    private readonly deps: HookDeps,
  ) {}

  /** Runs --on-session-start; throws SessionHookFailed (after auditing) when it fails or overruns. */
  async sessionStarting(facts: SessionFacts & { adminPassword: string | null }): Promise<void> {
    const command = this.commands.onSessionStart
    if (command === undefined) return
    const env = { ...factsEnv(facts), ...(facts.adminPassword !== null ? { OVERLAN_ADMIN_PASSWORD: facts.adminPassword } : {}) }
    const outcome = await this.run('session-start', command, env, facts.sessionId)
    if (!outcome.ok) throw new SessionHookFailed(`the session-start hook failed: ${outcome.reason}`)
  }

  /** Runs --on-session-end; a failure is audited and logged, never thrown: the session is over either way. */
  async sessionEnded(facts: SessionFacts & { reason: string }): Promise<void> {
    const command = this.commands.onSessionEnd
    if (command === undefined) return
    await this.run('session-end', command, { ...factsEnv(facts), OVERLAN_SESSION_END_REASON: facts.reason }, facts.sessionId)
  }

  private async run(hook: string, command: string, env: Record<string, string>, sessionId: string): Promise<HookOutcome> {
    // the service's own OVERLAN_* variables are not the session's facts: only these are passed
    const base = Object.fromEntries(Object.entries(this.deps.env).filter(([name]) => !name.startsWith('OVERLAN_')))
    const outcome = await runHook(command, { ...base, ...env }, this.deps.clock, HOOK_TIMEOUT_MS)
    if (outcome.ok) this.deps.log.info(`${hook} hook done`)
    else this.deps.log.error(`${hook} hook failed: ${outcome.reason}`)
    await this.deps.record('session-hook', { hook, sessionId, ...(outcome.ok ? { outcome: 'ok' } : { outcome: 'failed', reason: outcome.reason }) })
    return outcome
  }
}

function factsEnv(facts: SessionFacts): Record<string, string> {
  return { OVERLAN_SESSION_ID: facts.sessionId, ...(facts.expiresAt !== null ? { OVERLAN_EXPIRES_AT: new Date(facts.expiresAt).toISOString() } : {}) }
}

/**
 * Runs `command` with /bin/sh in a process group of its own; after `timeoutMs` on `clock` the group
 * is killed. Resolves with the outcome, never rejects; a failure names the exit code or signal and
 * the last line the command wrote.
 */
export function runHook(command: string, env: Readonly<Record<string, string | undefined>>, clock: Clock, timeoutMs: number): Promise<HookOutcome> {
  return new Promise((resolve) => {
    let output = ''
    let timedOut = false
    const child = spawn('/bin/sh', ['-c', command], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES)
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    const timer = clock.after(timeoutMs, () => {
      timedOut = true
      killGroup(child.pid)
    })
    child.on('error', (err) => {
      timer.cancel()
      resolve({ ok: false, reason: `cannot run /bin/sh: ${err.message}` })
    })
    // 'exit', not 'close': a command that leaves a child holding its output must not hold the session
    child.on('exit', (code, signal) => {
      timer.cancel()
      // whatever it started in its group goes with it
      killGroup(child.pid)
      const last = lastLine(output)
      const said = last === '' ? '' : `: ${last}`
      if (timedOut) resolve({ ok: false, reason: `still running after ${timeoutMs / 1000} s: killed${said}` })
      else if (code === 0) resolve({ ok: true })
      else resolve({ ok: false, reason: `${code !== null ? `exit code ${code}` : `killed by ${signal ?? 'a signal'}`}${said}` })
    })
  })
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // the group has gone already
  }
}

function lastLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l.length > 0)
  return (lines.at(-1) ?? '').slice(0, 200)
}

/** OVERLAN_SESSION_END_REASON for the service's end events: off, expiry, idle (as receipts say), failed (the enable did not complete), lost. */
export function endReason(event: string): string {
  const reasons: Record<string, string> = { disable: 'off', expire: 'expiry', idle: 'idle', 'enable-failed': 'failed', 'session-lost': 'lost' }
  return reasons[event] ?? event
}
