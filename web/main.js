// The console page (log in, switch assistance on and off, hand out the join token, watch who is
// connected): wires api.js, state.js, view.js and the service's server-constants.js; owns the timers.
import { call, onSessionEnded, request } from './api.js'
import { auditEventLabels, loginLockSeconds, maxDurationSeconds, presenceCheckMs } from './server-constants.js'
import { canSwitch, idleMsLeft, INITIAL_PAGE, loggedIn, loggedOut, msLeft, switching, viewState, withAuditVerdict, withStatus } from './state.js'
import * as view from './view.js'

/** How often the status is fetched (a technician's request must appear within 2 s), and faster for a while right after a change. */
const POLL_MS = 1_000
const FAST_POLL_MS = 500
const FAST_POLL_FOR_MS = 6_000
/** The audit log is longer to fetch: now and then, and whenever something changed. */
const AUDIT_POLL_MS = 10_000
/** The service audits a technician's join or leave at its next presence check: look again just after it. */
const PRESENCE_AUDIT_LAG_MS = presenceCheckMs + 500
const COPIED_FOR_MS = 1_800

let page = { ...INITIAL_PAGE }
const timers = { poll: null, tick: null, audit: null }
/** GET /api/assistance answers are numbered: one that arrives after a newer one is stale (never reset: answers outlive a login). */
let statusAsked = 0
let statusApplied = 0

function render() {
  view.render(viewState(page, Date.now()))
}

// ---- logging in and out -----------------------------------------------------------------------

function showLogin(message) {
  stopTimers()
  page = loggedOut(message)
  render()
  view.focusLoginToken()
}

// every call refused for want of a session comes here: the first check of a page without one shows
// the form plainly, a session lost later says so, and calls still in flight after that change nothing
onSessionEnded(() => {
  if (page.view === 'login') return
  showLogin(page.view === 'console' ? 'Your session has ended (the service may have restarted): log in again.' : undefined)
})

async function logIn(event) {
  event.preventDefault()
  const token = view.loginToken()
  if (token === '') {
    page.loginError = 'Paste the API token first.'
    render()
    view.focusLoginToken()
    return
  }
  view.loginBusy(true)
  page.loginError = null
  render()
  try {
    await request('POST', '/api/login', { token })
    view.loginToken({ clear: true })
    await enterConsole()
  } catch (err) {
    if (err.status === 429) page.loginError = `Too many failed attempts: wait ${err.retryAfter ?? loginLockSeconds} seconds, then try again.`
    else page.loginError = err.status === 401 ? 'Wrong token. Check the file api-token in the state directory.' : err.message
    render()
    view.focusLoginToken({ select: true })
  } finally {
    view.loginBusy(false)
  }
}

async function logOut() {
  try {
    await request('POST', '/api/logout', {})
  } catch {
    // logged out either way: the page forgets its session below
  }
  showLogin()
}

async function enterConsole() {
  const answer = await fetchStatus()
  page = loggedIn()
  applyStatus(answer)
  schedulePoll()
  void refreshAudit()
}

// ---- the assistance state ---------------------------------------------------------------------

async function fetchStatus() {
  const seq = ++statusAsked
  return { seq, status: await call('GET', '/api/assistance') }
}

/** Takes a status answer in (state.js withStatus), then does what it asks: the countdown, the audit. */
function applyStatus({ seq, status }) {
  if (seq < statusApplied) return
  statusApplied = seq
  const now = Date.now()
  const { page: next, ended, techniciansChanged } = withStatus(page, status, now)
  page = next
  if (status.enabled && timers.tick === null && msLeft(page, now) > 0) tick()
  if (ended === 'expired') void refreshAudit()
  if (ended === 'elsewhere') {
    // switched off elsewhere, or expired a little early: the audit log's last word says which
    void refreshAudit().then((records) => {
      const confirmed = withAuditVerdict(page, records)
      if (confirmed === page) return
      page = confirmed
      render()
    })
  }
  if (techniciansChanged) {
    void refreshAudit()
    setTimeout(() => void refreshAudit(), PRESENCE_AUDIT_LAG_MS)
  }
  render()
}

async function toggle() {
  if (!canSwitch(page, Date.now())) return
  page = switching(page)
  const turnOn = page.pending === 'on'
  render()
  try {
    if (turnOn) {
      const result = await call('POST', '/api/assistance', {
        enabled: true,
        durationSeconds: view.chosenDuration(maxDurationSeconds),
        adminAccess: view.adminAccessChosen(),
        consent: view.consentChosen(),
        idleMinutes: view.chosenIdleMinutes(),
      })
      page.secrets = { token: result.token, adminPassword: result.adminPassword ?? null, expiresAt: result.expiresAt }
    } else {
      await call('POST', '/api/assistance', { enabled: false })
      page.secrets = null
    }
  } catch (err) {
    if (err.sessionEnded) return
    page.actionError = `Could not switch ${turnOn ? 'on' : 'off'}: ${err.message}`
  }
  page.fastUntil = Date.now() + FAST_POLL_FOR_MS
  try {
    const answer = await fetchStatus()
    page.pending = null
    applyStatus(answer)
  } catch (err) {
    page.pending = null
    if (err.sessionEnded) return
    lostContact(err)
  } finally {
    page.switchingOff = false
  }
  schedulePoll()
  void refreshAudit()
}

/** Allow, Deny or Disconnect pressed: the call, then the status at once (the lists change). */
async function decide(action, id) {
  view.technicianBusy(id, true)
  try {
    if (action === 'disconnect') await call('DELETE', `/api/technicians/${encodeURIComponent(id)}`)
    else await call('POST', `/api/technicians/${encodeURIComponent(id)}`, { admit: action === 'allow' })
    view.technicianError(null)
  } catch (err) {
    if (err.sessionEnded) return
    // 409: decided elsewhere meanwhile (another console, the API); the next status shows how
    view.technicianError(`Could not ${action} the technician: ${err.message}`)
  }
  view.technicianBusy(id, false)
  page.fastUntil = Date.now() + FAST_POLL_FOR_MS
  try {
    applyStatus(await fetchStatus())
  } catch (err) {
    if (!err.sessionEnded) lostContact(err)
  }
  void refreshAudit()
}

function lostContact(err) {
  page.connectionError = err.message
  render()
}

// ---- polling and the countdown ----------------------------------------------------------------

function schedulePoll() {
  clearTimeout(timers.poll)
  timers.poll = setTimeout(() => void poll(), Date.now() < page.fastUntil ? FAST_POLL_MS : POLL_MS)
  timers.audit ??= setInterval(() => void refreshAudit(), AUDIT_POLL_MS)
}

async function poll() {
  if (page.view !== 'console') return
  if (page.pending === null) {
    try {
      applyStatus(await fetchStatus())
    } catch (err) {
      if (err.sessionEnded) return
      lostContact(err)
    }
  }
  schedulePoll()
}

function stopTimers() {
  clearTimeout(timers.poll)
  clearTimeout(timers.tick)
  clearInterval(timers.audit)
  timers.poll = null
  timers.tick = null
  timers.audit = null
}

/** Redraws the countdown on each second boundary; at zero the session has expired: ask the service now. */
function tick() {
  clearTimeout(timers.tick)
  timers.tick = null
  if (page.view !== 'console' || page.deadline === null) return
  const now = Date.now()
  const left = msLeft(page, now)
  view.renderCountdown(left, idleMsLeft(page, now))
  if (left <= 0) {
    page.expiredAt = page.status?.expiresAt ?? null
    render()
    page.fastUntil = Date.now() + FAST_POLL_FOR_MS
    schedulePoll()
    return
  }
  timers.tick = setTimeout(tick, left % 1000 || 1000)
}

// ---- connection test and audit ----------------------------------------------------------------

async function testConnection() {
  view.connectionTestStarted()
  try {
    view.renderConnectionTest(await call('POST', '/api/connection-test', {}), Date.now())
    void refreshAudit()
  } catch (err) {
    if (!err.sessionEnded) view.connectionTestFailed(err.message)
  } finally {
    view.connectionTestDone()
  }
}

let auditInFlight = null

/** Fetches and shows the audit log; resolves to its records (or null when it could not). */
function refreshAudit() {
  if (page.view !== 'console') return Promise.resolve(null)
  auditInFlight ??= (async () => {
    try {
      const records = await call('GET', '/api/audit')
      view.renderAudit(records, auditEventLabels, Date.now())
      return records
    } catch (err) {
      if (!err.sessionEnded) view.auditFailed(err.message)
      return null
    } finally {
      auditInFlight = null
    }
  })()
  return auditInFlight
}

// ---- start ------------------------------------------------------------------------------------

view.ui.loginForm.addEventListener('submit', (event) => void logIn(event))
view.ui.logout.addEventListener('click', () => void logOut())
view.ui.toggle.addEventListener('click', () => void toggle())
view.ui.testButton.addEventListener('click', () => void testConnection())
for (const list of [view.ui.waitingList, view.ui.technicianList]) {
  list.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]')
    if (button !== null && !button.disabled) void decide(button.dataset.action, button.dataset.id)
  })
}
for (const button of view.copyButtons()) {
  button.addEventListener('click', async () => {
    await view.copyFor(button)
    setTimeout(() => view.copyButtonReset(button), COPIED_FOR_MS)
  })
}

// a session cookie from earlier opens the console at once; without one (401) the login form shows
try {
  await enterConsole()
} catch (err) {
  if (!err.sessionEnded) showLogin(err.message)
}
