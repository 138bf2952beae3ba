// The console page: log in with the API token, switch remote assistance on and off, hand the join
// token to a technician, and watch who is connected. Plain DOM, no framework, no build step; every
// server value reaches the page through textContent, never as HTML.
//
// <main data-state> is one of: loading, login, off, connecting, on, expired, error.

/** How often the status is fetched, and faster for a while right after a change. */
const POLL_MS = 2_000
const FAST_POLL_MS = 500
const FAST_POLL_FOR_MS = 6_000
/** The audit log is longer to fetch: now and then, and whenever something changed. */
const AUDIT_POLL_MS = 10_000
const AUDIT_SHOWN = 50
/** The service writes a technician's join or leave to the audit at its next presence check (each second). */
const PRESENCE_AUDIT_LAG_MS = 1_500
/** A session that ends within this much of its expiry ended by expiring (timers are not exact). */
const EXPIRY_SLACK_MS = 1_500
/** Beyond this difference between the server's remainingSeconds and expiresAt, the clocks differ. */
const CLOCK_SKEW_MS = 1_500
const COPIED_FOR_MS = 1_800

const EVENT_LABELS = {
  enable: 'Switched on',
  'enable-failed': 'Switch-on failed',
  disable: 'Switched off',
  expire: 'Expired',
  'technician-joined': 'Technician joined',
  'technician-left': 'Technician left',
  'connection-test': 'Connection test',
  'login-failed': 'Failed login',
  'state-unreadable': 'State file unreadable',
  'session-lost': 'Session lost with the state file',
}

const $ = (id) => {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`the page has no #${id}`)
  return el
}

const ui = {
  main: $('console'),
  loading: $('loading'),
  logout: $('logout'),
  loginView: $('login-view'),
  loginForm: $('login-form'),
  loginToken: $('login-token'),
  loginError: $('login-error'),
  loginSubmit: $('login-submit'),
  consoleView: $('console-view'),
  badge: $('state-badge'),
  stateText: $('state-text'),
  toggle: $('toggle'),
  toggleWord: $('toggle-word'),
  stateError: $('state-error'),
  stateNotice: $('state-notice'),
  options: $('options'),
  adminAccess: $('admin-access'),
  session: $('session'),
  countdown: $('countdown'),
  countdownUntil: $('countdown-until'),
  overlayIp: $('overlay-ip'),
  adminState: $('admin-state'),
  sessionSince: $('session-since'),
  tokenBox: $('token-box'),
  joinToken: $('join-token'),
  joinCommand: $('join-command'),
  tokenMissing: $('token-missing'),
  passwordBox: $('password-box'),
  adminPassword: $('admin-password'),
  passwordMissing: $('password-missing'),
  technicianCount: $('technician-count'),
  techniciansEmpty: $('technicians-empty'),
  technicianList: $('technician-list'),
  supernodesEmpty: $('supernodes-empty'),
  supernodeList: $('supernode-list'),
  testButton: $('test-connection'),
  testResult: $('test-result'),
  testTime: $('test-time'),
  testError: $('test-error'),
  testList: $('test-list'),
  auditError: $('audit-error'),
  auditEmpty: $('audit-empty'),
  auditList: $('audit-list'),
}

/** Everything the page knows. The join token and admin password live here only, for this page's life. */
const page = {
  view: 'loading',
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
  /** the last switch request failed: its message (until the next switch, or the service is on) */
  actionError: null,
  /** the service cannot be reached: its message (until the next answer) */
  connectionError: null,
  /** something to tell that is not an error (e.g. switched off from elsewhere) */
  notice: null,
  /** we asked for off: the next "disabled" is ours, not an expiry */
  switchingOff: false,
  fastUntil: 0,
  pollTimer: null,
  tickTimer: null,
  auditTimer: null,
  technicianIds: '',
  statusAsked: 0,
  statusApplied: 0,
  /** when the last session on screen ended by expiring */
  expiredAt: null,
}

class ApiError extends Error {
  constructor(status, message, field, retryAfter) {
    super(message)
    this.status = status
    this.field = field
    this.retryAfter = retryAfter
  }
}

/** One call to the service's API: JSON in, JSON out, an ApiError with the service's own message otherwise. */
async function api(method, path, body) {
  const init = { method, headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' }
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  let res
  try {
    res = await fetch(path, init)
  } catch {
    throw new ApiError(0, 'Cannot reach the assistance service. Is it running?')
  }
  let json = null
  if ((res.headers.get('content-type') ?? '').includes('application/json')) {
    try {
      json = await res.json()
    } catch {
      json = null
    }
  }
  if (!res.ok) {
    const message = json !== null && typeof json.error === 'string' ? json.error : `the service answered ${res.status} ${res.statusText}`
    throw new ApiError(res.status, message, json?.field, res.headers.get('retry-after'))
  }
  return json
}

// ---- views ------------------------------------------------------------------------------------

function showView(view) {
  page.view = view
  ui.loading.hidden = view !== 'loading'
  ui.loginView.hidden = view !== 'login'
  ui.consoleView.hidden = view !== 'console'
  ui.logout.hidden = view !== 'console'
  ui.main.removeAttribute('aria-busy')
  if (view === 'login') {
    ui.main.dataset.state = 'login'
    ui.loginToken.focus()
  } else if (view === 'console') {
    render()
  }
}

function showLogin(message) {
  stopTimers()
  page.pending = null
  page.switchingOff = false
  page.deadline = null
  page.status = null
  page.secrets = null
  page.expired = false
  page.notice = null
  page.actionError = null
  page.connectionError = null
  page.technicianIds = ''
  ui.loginError.hidden = message === undefined
  ui.loginError.textContent = message ?? ''
  showView('login')
}

async function logIn(event) {
  event.preventDefault()
  const token = ui.loginToken.value.trim()
  if (token === '') {
    ui.loginError.textContent = 'Paste the API token first.'
    ui.loginError.hidden = false
    ui.loginToken.focus()
    return
  }
  ui.loginSubmit.disabled = true
  ui.loginError.hidden = true
  try {
    await api('POST', '/api/login', { token })
    ui.loginToken.value = ''
    await enterConsole()
  } catch (err) {
    let message = err.status === 401 ? 'Wrong token. Check the file api-token in the state directory.' : err.message
    if (err.status === 429) message = `Too many failed attempts: wait ${err.retryAfter ?? 60} seconds, then try again.`
    ui.loginError.textContent = message
    ui.loginError.hidden = false
    ui.loginToken.select()
  } finally {
    ui.loginSubmit.disabled = false
  }
}

async function logOut() {
  try {
    await api('POST', '/api/logout', {})
  } catch {
    // logged out either way: the page forgets its session below
  }
  showLogin()
}

async function enterConsole() {
  const answer = await fetchStatus()
  showView('console')
  applyStatus(answer)
  schedulePoll()
  void refreshAudit()
}

// ---- the assistance state ---------------------------------------------------------------------

function phase() {
  if (page.pending !== null) return 'connecting'
  if (page.connectionError !== null || page.actionError !== null) return 'error'
  const s = page.status
  if (s === null) return 'off'
  if (s.enabled) {
    if (msLeft() <= 0) return 'expired'
    return s.error !== null ? 'error' : 'on'
  }
  return page.expired ? 'expired' : 'off'
}

function msLeft() {
  return page.deadline === null ? 0 : page.deadline - Date.now()
}

/** GET /api/assistance, numbered: an answer that arrives after a newer one is stale. */
async function fetchStatus() {
  const seq = ++page.statusAsked
  return { seq, status: await api('GET', '/api/assistance') }
}

/** Takes a status answer: notices a session that ended without us, keeps or drops the secrets. */
function applyStatus({ seq, status }) {
  if (seq < page.statusApplied) return
  page.statusApplied = seq
  const before = page.status
  page.status = status
  page.connectionError = null
  // a failed switch stays on screen until the next switch, or until the service changes by other means
  if (before !== null && before.enabled !== status.enabled) page.actionError = null
  if (status.enabled) {
    const expiresAt = Date.parse(status.expiresAt)
    const serverLeft = status.remainingSeconds * 1000
    page.deadline = Math.abs(expiresAt - Date.now() - serverLeft) > CLOCK_SKEW_MS ? Date.now() + serverLeft : expiresAt
    page.expired = false
    // the secrets belong to one session: another session (enabled elsewhere) has other ones
    if (page.secrets !== null && page.secrets.expiresAt !== status.expiresAt) page.secrets = null
    if (page.tickTimer === null && msLeft() > 0) tick()
  } else {
    if (before?.enabled && !page.switchingOff && page.pending === null) sessionEndedElsewhere(before)
    page.deadline = null
    page.secrets = null
  }
  const ids = status.technicians.map((t) => t.id).join(',')
  if (ids !== page.technicianIds) {
    page.technicianIds = ids
    void refreshAudit()
    setTimeout(() => void refreshAudit(), PRESENCE_AUDIT_LAG_MS)
  }
  render()
}

/** The service says off though this page did not switch off: it expired, or someone else switched off. */
function sessionEndedElsewhere(before) {
  page.expiredAt = before.expiresAt
  if (Date.parse(before.expiresAt) - Date.now() <= EXPIRY_SLACK_MS || msLeft() <= EXPIRY_SLACK_MS) {
    page.expired = true
    void refreshAudit()
    return
  }
  page.notice = 'Assistance was switched off outside this page.'
  void refreshAudit().then((records) => {
    const last = records?.findLast((r) => r.event === 'expire' || r.event === 'disable')
    if (last?.event === 'expire' && page.status?.enabled === false) {
      page.expired = true
      page.notice = null
      render()
    }
  })
}

async function toggle() {
  if (page.pending !== null) return
  const s = page.status
  // at zero the service is about to say it expired: wait for it rather than get the old session back
  if (s?.enabled && msLeft() <= 0) return
  const turnOn = s?.enabled !== true
  page.pending = turnOn ? 'on' : 'off'
  page.actionError = null
  page.notice = null
  page.expired = false
  page.switchingOff = !turnOn
  render()
  try {
    if (turnOn) {
      const result = await api('POST', '/api/assistance', { enabled: true, durationSeconds: chosenDuration(), adminAccess: ui.adminAccess.checked })
      page.secrets = { token: result.token, adminPassword: result.adminPassword ?? null, expiresAt: result.expiresAt }
    } else {
      await api('POST', '/api/assistance', { enabled: false })
      page.secrets = null
    }
  } catch (err) {
    if (err.status === 401) return showLogin('Your session has ended: log in again.')
    page.actionError = turnOn ? `Could not switch on: ${err.message}` : `Could not switch off: ${err.message}`
  }
  page.fastUntil = Date.now() + FAST_POLL_FOR_MS
  try {
    const answer = await fetchStatus()
    page.pending = null
    applyStatus(answer)
  } catch (err) {
    page.pending = null
    failedPoll(err)
  } finally {
    page.switchingOff = false
  }
  schedulePoll()
  void refreshAudit()
}

function chosenDuration() {
  const checked = document.querySelector('input[name="duration"]:checked')
  return checked === null ? 86_400 : Number(checked.value)
}

// ---- polling and the countdown ----------------------------------------------------------------

function schedulePoll() {
  clearTimeout(page.pollTimer)
  page.pollTimer = setTimeout(() => void poll(), Date.now() < page.fastUntil ? FAST_POLL_MS : POLL_MS)
  if (page.auditTimer === null) page.auditTimer = setInterval(() => void refreshAudit(), AUDIT_POLL_MS)
}

async function poll() {
  if (page.view !== 'console') return
  if (page.pending === null) {
    try {
      applyStatus(await fetchStatus())
    } catch (err) {
      failedPoll(err)
      if (err.status === 401) return
    }
  }
  schedulePoll()
}

function failedPoll(err) {
  if (err.status === 401) {
    showLogin('Your session has ended (the service may have restarted): log in again.')
    return
  }
  page.connectionError = err.message
  render()
}

function stopTimers() {
  clearTimeout(page.pollTimer)
  clearTimeout(page.tickTimer)
  clearInterval(page.auditTimer)
  page.pollTimer = null
  page.tickTimer = null
  page.auditTimer = null
}

/** Redraws the countdown on each second boundary; at zero the session has expired: ask the service now. */
function tick() {
  clearTimeout(page.tickTimer)
  page.tickTimer = null
  if (page.view !== 'console' || page.deadline === null) return
  const left = msLeft()
  renderCountdown(left)
  if (left <= 0) {
    page.expiredAt = page.status?.expiresAt ?? null
    render()
    page.fastUntil = Date.now() + FAST_POLL_FOR_MS
    schedulePoll()
    return
  }
  page.tickTimer = setTimeout(tick, left % 1000 || 1000)
}

function renderCountdown(left) {
  const seconds = Math.max(0, Math.ceil(left / 1000))
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  ui.countdown.textContent = `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`
  ui.countdown.dataset.seconds = String(seconds)
}

// ---- rendering --------------------------------------------------------------------------------

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })

function formatTime(iso) {
  const date = new Date(iso)
  return date.toDateString() === new Date().toDateString() ? timeFormat.format(date) : dateTimeFormat.format(date)
}

const STATE_WORDS = { off: 'Off', connecting: 'Working…', on: 'On', expired: 'Expired', error: 'Error' }

function render() {
  if (page.view !== 'console') return
  const state = phase()
  const s = page.status
  ui.main.dataset.state = state
  ui.badge.textContent = STATE_WORDS[state]

  const on = s?.enabled === true
  const live = on && state !== 'expired'
  ui.toggle.setAttribute('aria-checked', String(page.pending === 'on' || (page.pending === null && live)))
  ui.toggle.setAttribute('aria-busy', String(page.pending !== null))
  // aria-disabled, not disabled: a focused switch keeps the keyboard focus while it works
  ui.toggle.setAttribute('aria-disabled', String(page.pending !== null || (on && !live)))
  ui.toggleWord.textContent = page.pending !== null ? '…' : live ? 'On' : 'Off'
  ui.stateText.textContent = stateText(state)

  const error = state === 'error' ? (page.connectionError ?? page.actionError ?? (on ? `The device's edge is not running: ${s.error}. Switch off and on again.` : null)) : null
  ui.stateError.hidden = error === null
  ui.stateError.textContent = error ?? ''
  const notice = state === 'off' && s?.error && !page.actionError ? `The last attempt to switch on failed: ${s.error}` : page.notice
  ui.stateNotice.hidden = notice === null || state === 'on'
  ui.stateNotice.textContent = notice ?? ''

  // the options are for the next switch-on; while on, the session card says what was chosen
  ui.options.hidden = live || page.pending === 'off'
  ui.options.disabled = page.pending !== null

  renderSession(live)
  renderTechnicians(live ? s.technicians : [])
  renderSupernodes(live ? s.supernodes : [])
}

function stateText(state) {
  const s = page.status
  switch (state) {
    case 'connecting':
      return page.pending === 'on' ? 'Switching on…' : 'Switching off…'
    case 'on':
      return `A technician with the join token can reach this device until ${formatTime(s.expiresAt)}.`
    case 'expired': {
      const at = page.expiredAt ?? s?.expiresAt
      return `The session expired${at ? ` at ${formatTime(at)}` : ''} and its key was destroyed: nobody can connect. Switch on for a new session.`
    }
    case 'error':
      if (page.connectionError !== null) return 'The console has lost contact with the assistance service.'
      if (page.actionError !== null) return s?.enabled ? 'Assistance is still on.' : 'Assistance is off.'
      return "Assistance is on, but the device's edge is not running."
    default:
      return 'Nobody can connect to this device.'
  }
}

function renderSession(live) {
  const s = page.status
  ui.session.hidden = !live
  if (!live) {
    ui.countdown.textContent = '--:--:--'
    delete ui.countdown.dataset.seconds
    // a session that ended takes its secrets off the page, hidden copies included
    ui.joinToken.textContent = ''
    ui.joinCommand.textContent = ''
    ui.adminPassword.textContent = ''
    return
  }
  ui.countdownUntil.textContent = `left · ends at ${formatTime(s.expiresAt)}`
  renderCountdown(msLeft())
  ui.overlayIp.textContent = s.overlayIp ?? '—'
  ui.adminState.textContent = s.adminAccess ? 'On' : 'Off'
  ui.sessionSince.textContent = s.since ? formatTime(s.since) : '—'

  const secrets = page.secrets
  ui.tokenBox.hidden = secrets === null
  ui.tokenMissing.hidden = secrets !== null
  ui.joinToken.textContent = secrets?.token ?? ''
  ui.joinCommand.textContent = secrets ? `overlan edge --join ${secrets.token}` : ''
  const password = secrets?.adminPassword ?? null
  ui.passwordBox.hidden = password === null
  ui.adminPassword.textContent = password ?? ''
  ui.passwordMissing.hidden = !(s.adminAccess && password === null)
}

function renderTechnicians(technicians) {
  ui.technicianCount.textContent = String(technicians.length)
  ui.techniciansEmpty.hidden = technicians.length > 0
  ui.technicianList.replaceChildren(
    ...technicians.map((t) => {
      const li = el('li', { className: 'row', dataset: { id: t.id } })
      const main = el('div', { className: 'row-main' }, el('strong', {}, t.name ? `${t.name}` : `Technician ${t.id}`), el('span', { className: `tag tag-${t.path}` }, t.path))
      const facts = el(
        'div',
        { className: 'row-facts muted' },
        el('span', {}, `overlay ${t.ip ?? '—'}`),
        el('span', {}, `from ${t.endpoint ?? 'the relay'}`),
        el('span', {}, `since ${formatTime(t.since)}`),
        el('span', {}, `heard ${Math.round(t.lastSeenMs / 1000)} s ago`),
      )
      if (t.name) facts.prepend(el('span', {}, `ID ${t.id}`))
      li.append(main, facts)
      return li
    }),
  )
}

function renderSupernodes(supernodes) {
  ui.supernodesEmpty.hidden = supernodes.length > 0
  ui.supernodeList.replaceChildren(
    ...supernodes.map((n) =>
      el(
        'li',
        { className: 'row', dataset: { address: n.address, registered: String(n.registered) } },
        el('div', { className: 'row-main' }, el('code', {}, n.address), el('span', { className: n.registered ? 'tag tag-good' : 'tag tag-bad' }, n.registered ? 'registered' : 'not registered')),
        el('div', { className: 'row-facts muted' }, el('span', {}, n.rttMs === null ? 'round trip —' : `round trip ${formatMs(n.rttMs)}`)),
      ),
    ),
  )
}

function formatMs(ms) {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`
}

/** A small element builder: properties, dataset, then children (strings become text). */
function el(tag, props, ...children) {
  const node = document.createElement(tag)
  const { dataset, ...rest } = props
  Object.assign(node, rest)
  if (dataset) Object.assign(node.dataset, dataset)
  node.append(...children)
  return node
}

// ---- connection test and audit ----------------------------------------------------------------

async function testConnection() {
  ui.testButton.disabled = true
  ui.testButton.textContent = 'Testing…'
  ui.testResult.hidden = false
  ui.testError.hidden = true
  ui.testList.replaceChildren()
  ui.testTime.textContent = ''
  try {
    const result = await api('POST', '/api/connection-test', {})
    ui.testTime.textContent = `at ${timeFormat.format(new Date())}`
    ui.testList.replaceChildren(
      ...result.supernodes.map((n) => {
        const facts = el('div', { className: 'row-facts muted' })
        if (n.reachable) {
          facts.append(el('span', {}, `round trip ${n.rttMs === null ? '—' : formatMs(n.rttMs)}`), el('span', {}, `seen as ${n.publicEndpoint ?? '—'}`))
        } else {
          facts.append(el('span', {}, n.error ?? 'no answer'))
        }
        return el(
          'li',
          { className: 'row', dataset: { address: n.address, reachable: String(n.reachable) } },
          el('div', { className: 'row-main' }, el('code', {}, n.address), el('span', { className: n.reachable ? 'tag tag-good' : 'tag tag-bad' }, n.reachable ? 'reachable' : 'unreachable')),
          facts,
        )
      }),
    )
    void refreshAudit()
  } catch (err) {
    if (err.status === 401) return showLogin('Your session has ended: log in again.')
    ui.testError.textContent = `The test did not run: ${err.message}`
    ui.testError.hidden = false
  } finally {
    ui.testButton.disabled = false
    ui.testButton.textContent = 'Test connection'
  }
}

let auditInFlight = null

/** Fetches and shows the audit log; resolves to its records (or null when it could not). */
function refreshAudit() {
  if (page.view !== 'console') return Promise.resolve(null)
  auditInFlight ??= (async () => {
    try {
      const records = await api('GET', '/api/audit')
      renderAudit(records)
      ui.auditError.hidden = true
      return records
    } catch (err) {
      if (err.status === 401) return null
      ui.auditError.textContent = `Cannot read the audit log: ${err.message}`
      ui.auditError.hidden = false
      return null
    } finally {
      auditInFlight = null
    }
  })()
  return auditInFlight
}

function renderAudit(records) {
  const latest = records.slice(-AUDIT_SHOWN).reverse()
  ui.auditEmpty.hidden = latest.length > 0
  ui.auditList.replaceChildren(
    ...latest.map((r) =>
      el(
        'li',
        { className: 'audit-item', dataset: { event: r.event, seq: String(r.seq) } },
        el('time', { className: 'audit-time muted', dateTime: r.time }, formatTime(r.time)),
        el('span', { className: `event event-${r.event}` }, EVENT_LABELS[r.event] ?? r.event),
        el('span', { className: 'audit-details muted' }, describe(r.details)),
      ),
    ),
  )
}

function describe(details) {
  return Object.entries(details)
    .map(([key, value]) => `${key}: ${describeValue(value)}`)
    .join(' · ')
}

/** A detail as one line: lists of objects (a connection test's results) as "a=1 b=2; …". */
function describeValue(value) {
  if (Array.isArray(value)) return value.map(describeValue).join('; ')
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value)
      .map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
      .join(' ')
  }
  return String(value)
}

// ---- copy buttons -----------------------------------------------------------------------------

async function copy(button) {
  const source = $(button.dataset.copy)
  const text = source.textContent
  let copied = false
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text)
      copied = true
    } catch {
      copied = false
    }
  }
  if (!copied) {
    // without the clipboard API (plain http on a LAN address) select the text for Ctrl+C instead
    const range = document.createRange()
    range.selectNodeContents(source)
    const selection = window.getSelection()
    selection.removeAllRanges()
    selection.addRange(range)
    copied = document.execCommand('copy')
  }
  button.textContent = copied ? 'Copied' : 'Press Ctrl+C'
  button.classList.toggle('copied', copied)
  setTimeout(() => {
    button.textContent = 'Copy'
    button.classList.remove('copied')
  }, COPIED_FOR_MS)
}

// ---- start ------------------------------------------------------------------------------------

ui.loginForm.addEventListener('submit', (event) => void logIn(event))
ui.logout.addEventListener('click', () => void logOut())
ui.toggle.addEventListener('click', () => void toggle())
ui.testButton.addEventListener('click', () => void testConnection())
for (const button of document.querySelectorAll('button[data-copy]')) button.addEventListener('click', () => void copy(button))

// a session cookie from earlier opens the console at once; without one (401) the login form shows
try {
  await enterConsole()
} catch (err) {
  showLogin(err.status === 401 ? undefined : err.message)
}
