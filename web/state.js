// The console's state as plain data: its one initial value, what a status answer does to it, and the
// view state drawn from it. Pure functions of their arguments and the time: no DOM, fetch or timers.
import { formatTime } from './format.js'

/** A session that ends within this much of its expiry ended by expiring (timers are not exact). */
const EXPIRY_SLACK_MS = 1_500
/** Beyond this difference between the server's remainingSeconds and expiresAt, the clocks differ. */
const CLOCK_SKEW_MS = 1_500

/**
 * Everything the page knows, as it is before anyone logs in; logging in and out start again from it.
 * The join token and admin password live here only (`secrets`), for the page's life.
 */
export const INITIAL_PAGE = Object.freeze({
  /** 'loading' (the first check of the session) | 'login' | 'console' */
  view: 'loading',
  /** what the login form says went wrong, if anything */
  loginError: null,
  /** the last GET /api/assistance answer */
  status: null,
  /** the local time (ms) at which the current session ends, corrected for clock skew */
  deadline: null,
  /** a switch request in flight: 'on' | 'off' | null */
  pending: null,
  /** from the enable this page made: { token, adminPassword, expiresAt } */
  secrets: null,
  /** the session on screen ended by expiring (until the next switch) */
  expired: false,
  /** when the last session on screen ended by expiring */
  expiredAt: null,
  /** the last switch request failed: its message (until the next switch, or the service changes) */
  actionError: null,
  /** the service cannot be reached: its message (until the next answer) */
  connectionError: null,
  /** something to tell that is not an error (e.g. switched off from elsewhere) */
  notice: null,
  /** we asked for off: the next "disabled" is ours, not an expiry */
  switchingOff: false,
  /** poll fast until this time (ms), after a change */
  fastUntil: 0,
  /** the IDs and states of the technicians listed, to notice a request, a decision, a join or a leave */
  technicianIds: '',
  /** the local time (ms) at which the idle timeout ends the session, or null without one */
  idleDeadline: null,
})

/** The login form, saying `message` if given. */
export function loggedOut(message) {
  return { ...INITIAL_PAGE, view: 'login', loginError: message ?? null }
}

/** The console of a session that has just begun, before its first status answer. */
export function loggedIn() {
  return { ...INITIAL_PAGE, view: 'console' }
}

/** Milliseconds left of the session on screen at `now`; 0 without one. */
export function msLeft(page, now) {
  return page.deadline === null ? 0 : page.deadline - now
}

/** Milliseconds until the idle timeout at `now`, or null without one. */
export function idleMsLeft(page, now) {
  return page.idleDeadline === null ? null : Math.max(0, page.idleDeadline - now)
}

/** When the session ends, in local time: expiresAt, unless the two clocks differ, then what the server says is left. */
function deadline(status, now) {
  const expiresAt = Date.parse(status.expiresAt)
  const serverLeft = status.remainingSeconds * 1000
  return Math.abs(expiresAt - now - serverLeft) > CLOCK_SKEW_MS ? now + serverLeft : expiresAt
}

/**
 * A status answer taken in: the new page, and what the caller does besides. `ended` is 'expired'
 * or 'elsewhere' when the service is off though this page did not switch it off ('elsewhere' may
 * still turn out an expiry: see withAuditVerdict); `techniciansChanged` when someone joined or left.
 */
export function withStatus(page, status, now) {
  const before = page.status
  const next = { ...page, status, connectionError: null }
  let ended = null
  // a failed switch stays on screen until the next switch, or until the service changes by other means
  if (before !== null && before.enabled !== status.enabled) next.actionError = null
  if (status.enabled) {
    next.deadline = deadline(status, now)
    next.expired = false
    // the secrets belong to one session: another session (enabled elsewhere) has other ones
    if (page.secrets !== null && page.secrets.expiresAt !== status.expiresAt) next.secrets = null
  } else {
    if (before?.enabled && !page.switchingOff && page.pending === null) {
      next.expiredAt = before.expiresAt
      if (Date.parse(before.expiresAt) - now <= EXPIRY_SLACK_MS || msLeft(page, now) <= EXPIRY_SLACK_MS) {
        next.expired = true
        ended = 'expired'
      } else {
        next.notice = 'Assistance was switched off outside this page.'
        ended = 'elsewhere'
      }
    }
    next.deadline = null
    next.secrets = null
  }
  next.idleDeadline = status.enabled && status.idleRemainingSeconds !== null ? now + status.idleRemainingSeconds * 1000 : null
  next.technicianIds = status.technicians.map((t) => `${t.id}:${t.state}`).join(',')
  return { page: next, ended, techniciansChanged: next.technicianIds !== page.technicianIds }
}

/** After a session ended elsewhere: when the audit log's last end of a session is an expiry, it expired. */
export function withAuditVerdict(page, records) {
  const last = records?.findLast((r) => r.event === 'expire' || r.event === 'disable')
  if (last?.event !== 'expire' || page.status?.enabled !== false) return page
  return { ...page, expired: true, notice: null }
}

/** Whether the switch acts now: not while a switch is in flight, nor at zero (the service is about to say it expired). */
export function canSwitch(page, now) {
  if (page.pending !== null) return false
  return !(page.status?.enabled && msLeft(page, now) <= 0)
}

/** The page once the switch is pressed: a request to turn on (when not on) or off is in flight. */
export function switching(page) {
  const turnOn = page.status?.enabled !== true
  return { ...page, pending: turnOn ? 'on' : 'off', actionError: null, notice: null, expired: false, switchingOff: !turnOn }
}

/** Which state the console is in: <main data-state>. */
export function phase(page, now) {
  if (page.view !== 'console') return page.view
  if (page.pending !== null) return 'connecting'
  if (page.connectionError !== null || page.actionError !== null) return 'error'
  const s = page.status
  if (s === null) return 'off'
  if (s.enabled) {
    if (msLeft(page, now) <= 0) return 'expired'
    return s.error !== null ? 'error' : 'on'
  }
  return page.expired ? 'expired' : 'off'
}

const STATE_WORDS = { off: 'Off', connecting: 'Working…', on: 'On', expired: 'Expired', error: 'Error' }

/**
 * What each part of the page shows at `now`: the view state that view.js draws. Outside the
 * console only the view and the login form's message; in it, every part of the console, with
 * `session` null when no session is live (its card, token and password are then off the page).
 */
export function viewState(page, now) {
  const state = phase(page, now)
  if (page.view !== 'console') return { state, view: page.view, loginError: page.loginError }
  const s = page.status
  const on = s?.enabled === true
  const live = on && state !== 'expired'
  const error = state === 'error' ? (page.connectionError ?? page.actionError ?? (on ? `The device's edge is not running: ${s.error}. Switch off and on again.` : null)) : null
  const notice = state === 'off' && s?.error && !page.actionError ? `The last attempt to switch on failed: ${s.error}` : page.notice
  return {
    state,
    view: 'console',
    loginError: page.loginError,
    now,
    badge: STATE_WORDS[state],
    toggle: {
      checked: page.pending === 'on' || (page.pending === null && live),
      busy: page.pending !== null,
      disabled: page.pending !== null || (on && !live),
      word: page.pending !== null ? '…' : live ? 'On' : 'Off',
    },
    text: stateText(page, state, now),
    // what a technician is told it joins: the name in the token, the key it checks
    device: s ? { name: s.deviceName, fingerprint: s.deviceFingerprint } : null,
    error,
    notice: state === 'on' ? null : notice,
    // the options are for the next switch-on; while on, the session card says what was chosen
    options: { hidden: live || page.pending === 'off', disabled: page.pending !== null },
    session: live ? sessionView(page, now) : null,
    // the owner decides on waiting requests and may disconnect admitted technicians; requests that
    // ended (gone, denied, disconnected) are in the audit log
    waiting: live ? s.technicians.filter((t) => t.state === 'waiting') : [],
    technicians: live ? s.technicians.filter((t) => t.state === 'admitted') : [],
    supernodes: live ? s.supernodes : [],
  }
}

function stateText(page, state, now) {
  const s = page.status
  switch (state) {
    case 'connecting':
      return page.pending === 'on' ? 'Switching on…' : 'Switching off…'
    case 'on':
      return s.consent === 'ask'
        ? `A technician with the join token can ask to reach this device until ${formatTime(s.expiresAt, now)}; you allow or deny each one.`
        : `A technician with the join token can reach this device until ${formatTime(s.expiresAt, now)} (at most ${s.maxTechnicians} at once).`
    case 'expired': {
      const at = page.expiredAt ?? s?.expiresAt
      return `The session expired${at ? ` at ${formatTime(at, now)}` : ''} and its key was destroyed: nobody can connect. Switch on for a new session.`
    }
    case 'error':
      if (page.connectionError !== null) return 'The console has lost contact with the assistance service.'
      if (page.actionError !== null) return s?.enabled ? 'Assistance is still on.' : 'Assistance is off.'
      return "Assistance is on, but the device's edge is not running."
    default:
      return 'Nobody can connect to this device.'
  }
}

/** The session card of a live session; the token and password only when this page switched it on. */
function sessionView(page, now) {
  const s = page.status
  const secrets = page.secrets
  const adminPassword = secrets?.adminPassword ?? null
  return {
    msLeft: msLeft(page, now),
    until: `left · ends at ${formatTime(s.expiresAt, now)}`,
    idleMsLeft: idleMsLeft(page, now),
    idleMinutes: s.idleMinutes,
    consent: s.consent === 'ask' ? 'You allow each technician' : `Automatic, at most ${s.maxTechnicians}`,
    overlayIp: s.overlayIp ?? '—',
    adminAccess: s.adminAccess ? 'On' : 'Off',
    since: s.since ? formatTime(s.since, now) : '—',
    token: secrets?.token ?? null,
    // the token stays out of the technician's process list: it goes into a file, the command names the file
    command: secrets ? 'sudo overlan edge --join-file token.txt --name "Your name"' : null,
    adminPassword,
    passwordMissing: s.adminAccess && adminPassword === null,
  }
}
