// `overlan edge --rekey-after SECONDS`: pair sessions rekey sooner than WireGuard's 120 s, for labs
// that want to see rekeys happen under load in a test's time. The other session times keep
// WireGuard's proportions to it (reject at 1.5 times, the responder's own rekey 15/120 of it before).
import { REJECT_AFTER_TIME_MS, REKEY_AFTER_TIME_MS, RESPONDER_REKEY_AFTER_MS, type SessionLimits } from '../crypto/noise-session.js'
import { CliError } from './errors.js'

/** Below this a handshake's round trip (and its retry after 1 s) is a visible part of each key's life. */
export const MIN_REKEY_AFTER_SECONDS = 10
/** The default (WireGuard's): a longer one only keeps keys longer than the protocol means to. */
export const MAX_REKEY_AFTER_SECONDS = REKEY_AFTER_TIME_MS / 1000

/** The session limits for --rekey-after `seconds`; a refusal is one line naming the option. */
export function rekeyAfterLimits(seconds: number): Partial<SessionLimits> {
  if (!Number.isInteger(seconds) || seconds < MIN_REKEY_AFTER_SECONDS || seconds > MAX_REKEY_AFTER_SECONDS) {
    throw new CliError(`--rekey-after must be a whole number of seconds from ${MIN_REKEY_AFTER_SECONDS} to ${MAX_REKEY_AFTER_SECONDS}, got ${seconds}`)
  }
  const scale = (ms: number): number => Math.round((ms * seconds * 1000) / REKEY_AFTER_TIME_MS)
  return { rekeyAfterTimeMs: seconds * 1000, rejectAfterTimeMs: scale(REJECT_AFTER_TIME_MS), responderRekeyAfterMs: scale(RESPONDER_REKEY_AFTER_MS) }
}
