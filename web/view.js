// Draws the console from a view state (state.js) and from the service's answers: plain DOM, and
// every server value reaches the page through textContent or text nodes, never as HTML.
import { describeDetails, formatBytes, formatClock, formatCountdown, formatMs, formatTime, shortFingerprint } from './format.js'

/** The audit section lists this many records, newest first (index.html says so). */
const AUDIT_SHOWN = 50

const $ = (id) => {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`the page has no #${id}`)
  return el
}

export const ui = {
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
  deviceLine: $('device-line'),
  deviceName: $('device-name'),
  deviceKey: $('device-key'),
  toggle: $('toggle'),
  toggleWord: $('toggle-word'),
  stateError: $('state-error'),
  stateNotice: $('state-notice'),
  options: $('options'),
  adminAccess: $('admin-access'),
  consentAsk: $('consent-ask'),
  idleBox: $('idle-box'),
  idleCountdown: $('idle-countdown'),
  consentState: $('consent-state'),
  requests: $('requests'),
  waitingCount: $('waiting-count'),
  waitingEmpty: $('waiting-empty'),
  waitingList: $('waiting-list'),
  technicianError: $('technician-error'),
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
  testSentences: $('test-sentences'),
  auditError: $('audit-error'),
  auditEmpty: $('audit-empty'),
  auditList: $('audit-list'),
}

/** The whole page from a view state (state.js viewState). */
export function render(v) {
  ui.main.dataset.state = v.state
  ui.main.removeAttribute('aria-busy')
  ui.loading.hidden = v.view !== 'loading'
  ui.loginView.hidden = v.view !== 'login'
  ui.consoleView.hidden = v.view !== 'console'
  ui.logout.hidden = v.view !== 'console'
  showText(ui.loginError, v.loginError)
  if (v.view !== 'console') {
    // out of the console, a session's secrets leave the page, hidden copies included
    renderSession(null)
    return
  }
  ui.badge.textContent = v.badge
  ui.toggle.setAttribute('aria-checked', String(v.toggle.checked))
  ui.toggle.setAttribute('aria-busy', String(v.toggle.busy))
  // aria-disabled, not disabled: a focused switch keeps the keyboard focus while it works
  ui.toggle.setAttribute('aria-disabled', String(v.toggle.disabled))
  ui.toggleWord.textContent = v.toggle.word
  ui.stateText.textContent = v.text
  renderDevice(v.device)
  showText(ui.stateError, v.error)
  showText(ui.stateNotice, v.notice)
  ui.options.hidden = v.options.hidden
  ui.options.disabled = v.options.disabled
  renderSession(v.session)
  // requests come only while a session is live
  ui.requests.hidden = v.session === null
  renderWaiting(v.waiting)
  renderTechnicians(v.technicians, v.now)
  renderSupernodes(v.supernodes)
}

/** The device's name and a short fingerprint of its key (the whole one in the title), as technicians are told them. */
function renderDevice(device) {
  ui.deviceLine.hidden = device === null
  ui.deviceName.textContent = device?.name ?? ''
  ui.deviceKey.textContent = device ? shortFingerprint(device.fingerprint) : ''
  ui.deviceKey.title = device?.fingerprint ?? ''
}

/** An element that shows `text`, or is hidden and empty when it is null. */
function showText(element, text) {
  element.hidden = text === null
  element.textContent = text ?? ''
}

/** The countdowns (the session's, and the idle timeout's when one is set: `idleMs` null), redrawn each second without the rest of the page. */
export function renderCountdown(ms, idleMs) {
  const { text, seconds } = formatCountdown(ms)
  ui.countdown.textContent = text
  ui.countdown.dataset.seconds = String(seconds)
  ui.idleBox.hidden = idleMs === null
  if (idleMs === null) {
    delete ui.idleCountdown.dataset.seconds
    return
  }
  const idle = formatCountdown(idleMs)
  ui.idleCountdown.textContent = idle.text
  ui.idleCountdown.dataset.seconds = String(idle.seconds)
}

function renderSession(session) {
  ui.session.hidden = session === null
  if (session === null) {
    ui.countdown.textContent = '--:--:--'
    delete ui.countdown.dataset.seconds
    ui.idleBox.hidden = true
    // a session that ended takes its secrets off the page, hidden copies included
    ui.joinToken.textContent = ''
    ui.joinCommand.textContent = ''
    ui.adminPassword.textContent = ''
    return
  }
  ui.countdownUntil.textContent = session.until
  renderCountdown(session.msLeft, session.idleMsLeft)
  ui.consentState.textContent = session.consent
  ui.overlayIp.textContent = session.overlayIp
  ui.adminState.textContent = session.adminAccess
  ui.sessionSince.textContent = session.since
  ui.tokenBox.hidden = session.token === null
  ui.tokenMissing.hidden = session.token !== null
  ui.joinToken.textContent = session.token ?? ''
  ui.joinCommand.textContent = session.command ?? ''
  ui.passwordBox.hidden = session.adminPassword === null
  ui.adminPassword.textContent = session.adminPassword ?? ''
  ui.passwordMissing.hidden = !session.passwordMissing
}

/** Requests waiting for the owner: name, short fingerprint (whole in the title), where from, Allow and Deny. */
function renderWaiting(waiting) {
  ui.waitingCount.textContent = String(waiting.length)
  ui.waitingEmpty.hidden = waiting.length > 0
  ui.waitingList.replaceChildren(
    ...waiting.map((t) =>
      el(
        'li',
        { className: 'row row-request', dataset: { id: t.id, state: t.state } },
        el('div', { className: 'row-main' }, el('strong', {}, t.name || 'Unnamed technician'), el('code', { className: 'fingerprint', title: t.fingerprint }, shortFingerprint(t.fingerprint))),
        factsLine([`from ${t.address}`, `key ${t.fingerprint}`]),
        el(
          'div',
          { className: 'row-actions' },
          el('button', { type: 'button', className: 'button button-primary', dataset: { action: 'allow', id: t.id } }, 'Allow'),
          el('button', { type: 'button', className: 'button', dataset: { action: 'deny', id: t.id } }, 'Deny'),
        ),
      ),
    ),
  )
}

/** Admitted technicians: name, path, since when, traffic, and Disconnect. */
function renderTechnicians(technicians, now) {
  ui.technicianCount.textContent = String(technicians.length)
  ui.techniciansEmpty.hidden = technicians.length > 0
  ui.technicianList.replaceChildren(
    ...technicians.map((t) => {
      const facts = [
        `key ${shortFingerprint(t.fingerprint)}`,
        `overlay ${t.ip ?? '—'}`,
        `since ${formatTime(t.since, now)}`,
        `traffic ↓ ${formatBytes(t.rxBytes)} ↑ ${formatBytes(t.txBytes)}`,
        t.lastSeenMs === null ? 'not heard yet' : `heard ${Math.round(t.lastSeenMs / 1000)} s ago`,
      ]
      const path = t.path ?? 'connecting'
      return el(
        'li',
        { className: 'row', dataset: { id: t.id, state: t.state } },
        el('div', { className: 'row-main' }, el('strong', {}, t.name || `Technician ${t.id}`), el('span', { className: `tag tag-${path}` }, path)),
        factsLine(facts),
        el('div', { className: 'row-actions' }, el('button', { type: 'button', className: 'button button-danger', dataset: { action: 'disconnect', id: t.id } }, 'Disconnect')),
      )
    }),
  )
}

/** Why the last Allow, Deny or Disconnect failed, or null to clear it. */
export function technicianError(message) {
  showText(ui.technicianError, message)
}

/** The technician buttons (Allow, Deny, Disconnect) while their call is in flight, or after it failed. */
export function technicianBusy(id, busy) {
  for (const button of document.querySelectorAll(`button[data-id="${CSS.escape(id)}"]`)) button.disabled = busy
}

function renderSupernodes(supernodes) {
  ui.supernodesEmpty.hidden = supernodes.length > 0
  ui.supernodeList.replaceChildren(
    ...supernodes.map((n) =>
      supernodeRow(n.address, { registered: String(n.registered) }, n.registered ? 'registered' : null, 'not registered', [n.rttMs === null ? 'round trip —' : `round trip ${formatMs(n.rttMs)}`]),
    ),
  )
}

/** A supernode as a row: its address, a tag (`good`, or `bad` when good is null), facts below. */
function supernodeRow(address, dataset, good, bad, facts) {
  return el(
    'li',
    { className: 'row', dataset: { address, ...dataset } },
    el('div', { className: 'row-main' }, el('code', {}, address), el('span', { className: good !== null ? 'tag tag-good' : 'tag tag-bad' }, good ?? bad)),
    factsLine(facts),
  )
}

/** A row's facts, each a span in one muted line. */
function factsLine(facts) {
  return el('div', { className: 'row-facts muted' }, ...facts.map((fact) => el('span', {}, fact)))
}

/** A small element builder: properties, dataset, then children (strings become text nodes). */
function el(tag, props, ...children) {
  const node = document.createElement(tag)
  const { dataset, ...rest } = props
  Object.assign(node, rest)
  if (dataset) Object.assign(node.dataset, dataset)
  node.append(...children)
  return node
}

// ---- connection test --------------------------------------------------------------------------

/** The test button while a test runs: busy, with the last result cleared. */
export function connectionTestStarted() {
  ui.testButton.disabled = true
  ui.testButton.textContent = 'Testing…'
  ui.testResult.hidden = false
  ui.testError.hidden = true
  ui.testList.replaceChildren()
  ui.testSentences.replaceChildren()
  ui.testTime.textContent = ''
}

/** A test's result (POST /api/connection-test): each supernode reachable or not, then netcheck's sentences as they are. */
export function renderConnectionTest(result, now) {
  ui.testTime.textContent = `at ${formatClock(now)}`
  ui.testList.replaceChildren(
    ...result.supernodes.map((n) =>
      supernodeRow(
        n.address,
        { reachable: String(n.reachable) },
        n.reachable ? 'reachable' : null,
        'unreachable',
        n.reachable ? [`round trip ${n.rttMs === null ? '—' : formatMs(n.rttMs)}`, `seen as ${n.publicEndpoint ?? '—'}`] : [n.error ?? 'no answer'],
      ),
    ),
  )
  // textContent only: the sentences name hosts and errors that came from the network
  ui.testSentences.replaceChildren(...(result.sentences ?? []).map((sentence) => el('li', {}, sentence)))
}

export function connectionTestFailed(message) {
  showText(ui.testError, `The test did not run: ${message}`)
}

export function connectionTestDone() {
  ui.testButton.disabled = false
  ui.testButton.textContent = 'Test connection'
}

// ---- audit ------------------------------------------------------------------------------------

/** The latest audit records, newest first, each event under its label (`labels`: the service's). */
export function renderAudit(records, labels, now) {
  const latest = records.slice(-AUDIT_SHOWN).reverse()
  ui.auditError.hidden = true
  ui.auditEmpty.hidden = latest.length > 0
  ui.auditList.replaceChildren(
    ...latest.map((r) =>
      el(
        'li',
        { className: 'audit-item', dataset: { event: r.event, seq: String(r.seq) } },
        el('time', { className: 'audit-time muted', dateTime: r.time }, formatTime(r.time, now)),
        el('span', { className: `event event-${r.event}` }, labels[r.event] ?? r.event),
        el('span', { className: 'audit-details muted' }, describeDetails(r.details)),
      ),
    ),
  )
}

export function auditFailed(message) {
  showText(ui.auditError, `Cannot read the audit log: ${message}`)
}

// ---- the login form and the switch's options ---------------------------------------------------

export function focusLoginToken({ select = false } = {}) {
  if (select) ui.loginToken.select()
  else ui.loginToken.focus()
}

/** The token typed into the login form; `clear` empties the field once it has been used. */
export function loginToken({ clear = false } = {}) {
  const token = ui.loginToken.value.trim()
  if (clear) ui.loginToken.value = ''
  return token
}

export function loginBusy(busy) {
  ui.loginSubmit.disabled = busy
}

/** The duration chosen for the next switch-on, in seconds (`fallback` when none is checked). */
export function chosenDuration(fallback) {
  const checked = document.querySelector('input[name="duration"]:checked')
  return checked === null ? fallback : Number(checked.value)
}

export function adminAccessChosen() {
  return ui.adminAccess.checked
}

/** "ask" unless the owner unticked "Ask me before each technician joins". */
export function consentChosen() {
  return ui.consentAsk.checked ? 'ask' : 'auto'
}

/** The idle timeout chosen for the next switch-on, in minutes (0: off). */
export function chosenIdleMinutes() {
  const checked = document.querySelector('input[name="idle"]:checked')
  return checked === null ? 0 : Number(checked.value)
}

// ---- copy buttons -----------------------------------------------------------------------------

/** Copies the text of the button's data-copy element; without the clipboard API, selects it for Ctrl+C. */
export async function copyFor(button) {
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
    // plain http on a LAN address has no clipboard API
    const range = document.createRange()
    range.selectNodeContents(source)
    const selection = window.getSelection()
    selection.removeAllRanges()
    selection.addRange(range)
    copied = document.execCommand('copy')
  }
  button.textContent = copied ? 'Copied' : 'Press Ctrl+C'
  button.classList.toggle('copied', copied)
}

export function copyButtonReset(button) {
  button.textContent = 'Copy'
  button.classList.remove('copied')
}

export function copyButtons() {
  return document.querySelectorAll('button[data-copy]')
}
