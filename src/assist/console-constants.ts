// The values the console page (web/) shares with the service, written out as a small ES module that
// the API serves at CONSOLE_CONSTANTS_PATH: the page imports them instead of keeping copies that drift.
import type { AuditEvent } from './audit-log.js'

/** Where the page imports the module from (web/main.js); no file of web/ may take this name. */
export const CONSOLE_CONSTANTS_PATH = '/server-constants.js'

/** Each audit event as the console lists it; a Record, so that a new event cannot go unlabelled. */
export const AUDIT_EVENT_LABELS: Readonly<Record<AuditEvent, string>> = {
  enable: 'Switched on',
  'enable-failed': 'Switch-on failed',
  disable: 'Switched off',
  expire: 'Expired',
  idle: 'Switched off: idle',
  'technician-request': 'Technician asked to join',
  'technician-admitted': 'Technician admitted',
  'technician-denied': 'Technician denied',
  'technician-gone': 'Technician stopped asking',
  'technician-disconnected': 'Technician disconnected',
  'technician-joined': 'Technician joined',
  'technician-left': 'Technician left',
  'connection-test': 'Connection test',
  'login-failed': 'Failed login',
  'state-unreadable': 'State file unreadable',
  'session-lost': 'Session lost with the state file',
  'session-hook': 'Session hook',
}

export interface ConsoleConstants {
  /** the longest session POST /api/assistance accepts, and its default */
  maxDurationSeconds: number
  /** how often the service looks for technicians who joined or left, and audits it */
  presenceCheckMs: number
  /** how long a token that keeps failing is refused (429), the wait the page names when no Retry-After came */
  loginLockSeconds: number
  auditEventLabels: Readonly<Record<string, string>>
}

/** The module's text: one named export per constant, each a JSON value, objects frozen (data only). */
export function consoleConstantsModule(constants: ConsoleConstants): string {
  const lines = ['// Written by the assistance service (src/assist/console-constants.ts): the values the console shares with it.']
  for (const [name, value] of Object.entries(constants)) {
    const json = JSON.stringify(value)
    lines.push(`export const ${name} = ${typeof value === 'object' ? `Object.freeze(${json})` : json}`)
  }
  return lines.join('\n') + '\n'
}
