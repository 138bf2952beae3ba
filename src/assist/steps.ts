// The named steps of every assistance state change, reported to an optional observer. Fault tests
// stop the service at each one (`OVERLAN_CRASH_AT`, read by the CLI) to prove that a restart
// after any of them finds one of the two consistent states: off, or on with the same session.

/** The audit log's own step: the record's line is in the log, the head file not yet updated. */
export function auditLineWritten(event: string): string {
  return `audit:${event}:line-written`
}

/**
 * Ending a session (disable, expiry, idle timeout, a failed or rolled-back enable): the admitted
 * technicians' revocations are saved and handed to the edge first; the audit record commits the end.
 */
export function endSteps(event: string): string[] {
  return [`${event}:begin`, `${event}:revoked`, `${event}:edge-stopped`, auditLineWritten(event), `${event}:recorded`, `${event}:state-written`]
}

/** Enabling: the state first, then the edge; the audit record commits it. */
export const ENABLE_STEPS = ['enable:begin', 'enable:state-written', 'enable:edge-started', auditLineWritten('enable'), 'enable:recorded']
export const DISABLE_STEPS = endSteps('disable')
export const EXPIRE_STEPS = endSteps('expire')
export const IDLE_STEPS = endSteps('idle')
/** An enable interrupted before its record is rolled back at the next start, in these steps. */
export const ROLLBACK_STEPS = endSteps('enable-failed')

/** A technician's request: saved, then audited (it waits: no certificate is in force). */
export const REQUEST_STEPS = ['technician-request:state-written', auditLineWritten('technician-request')]
/** An admission: the state file holds the certificate before any poll is answered with it; the audit record follows. */
export const ADMIT_STEPS = ['technician-admitted:state-written', auditLineWritten('technician-admitted')]
/** A disconnect: the revocation is saved, then handed to the device edge, then audited. */
export const DISCONNECT_STEPS = ['technician-disconnected:state-written', 'technician-disconnected:edge-told', auditLineWritten('technician-disconnected')]

export const ALL_STEPS: readonly string[] = [...ENABLE_STEPS, ...DISABLE_STEPS, ...EXPIRE_STEPS, ...IDLE_STEPS, ...ROLLBACK_STEPS, ...REQUEST_STEPS, ...ADMIT_STEPS, ...DISCONNECT_STEPS]

/** Called at each step, after it is done and before the next begins (may be async: the service waits). */
export type StepObserver = (step: string) => void | Promise<void>
