// The console page's state (web/state.js), without a browser: from the service's status answers to
// the view state each of the seven states shows (loading, login, off, connecting, on, expired,
// error), and the page's one initial value that logging in and out start again from.
import t from 'tap'
import type { AssistanceStatus, Technician } from '../../src/assist/service.js'

interface Page {
  view: string
  loginError: string | null
  status: AssistanceStatus | null
  deadline: number | null
  pending: 'on' | 'off' | null
  secrets: { token: string; adminPassword: string | null; expiresAt: string } | null
  expired: boolean
  expiredAt: string | null
  actionError: string | null
  connectionError: string | null
  notice: string | null
  switchingOff: boolean
  fastUntil: number
  technicianIds: string
  idleDeadline: number | null
}

interface ViewState {
  state: string
  view: string
  loginError: string | null
  badge: string
  toggle: { checked: boolean; busy: boolean; disabled: boolean; word: string }
  text: string
  device: { name: string; fingerprint: string } | null
  error: string | null
  notice: string | null
  options: { hidden: boolean; disabled: boolean }
  session: { msLeft: number; idleMsLeft: number | null; overlayIp: string; adminAccess: string; consent: string; token: string | null; command: string | null; adminPassword: string | null; passwordMissing: boolean } | null
  waiting: unknown[]
  technicians: unknown[]
  supernodes: unknown[]
}

interface StateModule {
  INITIAL_PAGE: Readonly<Page>
  loggedOut: (message?: string) => Page
  loggedIn: () => Page
  msLeft: (page: Page, now: number) => number
  idleMsLeft: (page: Page, now: number) => number | null
  withStatus: (page: Page, status: AssistanceStatus, now: number) => { page: Page; ended: 'expired' | 'elsewhere' | null; techniciansChanged: boolean }
  withAuditVerdict: (page: Page, records: { event: string }[] | null) => Page
  canSwitch: (page: Page, now: number) => boolean
  switching: (page: Page) => Page
  viewState: (page: Page, now: number) => ViewState
}

// the page's modules are plain browser JavaScript outside the TypeScript project: imported by URL
const state = (await import(new URL('../../web/state.js', import.meta.url).href)) as StateModule
const { INITIAL_PAGE, loggedOut, loggedIn, msLeft, idleMsLeft, withStatus, withAuditVerdict, canSwitch, switching, viewState } = state

const NOW = Date.parse('2026-11-30T10:00:00.000Z')
const DEVICE = 'mfrggzdfmztwq2lknnwg23tpobyxe43u'

/** A technician as GET /api/technicians lists it. */
function technician(changes: Partial<Technician> = {}): Technician {
  return { id: 'a1b2c3d4e5f6', name: 'Alice', fingerprint: 'nbswy3dpeb3w64tmmqqq4zlemvzxi5dp', state: 'admitted', address: '198.51.100.7:40000', ip: '10.99.0.5', path: 'direct', since: new Date(NOW).toISOString(), lastSeenMs: 0, rxBytes: 0, txBytes: 0, certificate: 'ojsxg5dbnrwgc3dumvzxi5dpn5xgk4tf', decidedBy: 'console', ...changes }
}
const HOUR = 3_600_000

function offStatus(changes: Partial<AssistanceStatus> = {}): AssistanceStatus {
  return { enabled: false, since: null, expiresAt: null, remainingSeconds: 0, adminAccess: false, overlayIp: null, consent: null, maxTechnicians: null, idleMinutes: 0, idleRemainingSeconds: null, allow: null, deviceFingerprint: DEVICE, deviceName: 'front-desk', technicians: [], supernodes: [], error: null, ...changes }
}

/** A session switched on at NOW that ends `leftMs` later, as the service reports it at NOW. */
function onStatus(leftMs: number, changes: Partial<AssistanceStatus> = {}): AssistanceStatus {
  return {
    enabled: true,
    since: new Date(NOW).toISOString(),
    expiresAt: new Date(NOW + leftMs).toISOString(),
    remainingSeconds: Math.round(leftMs / 1000),
    adminAccess: false,
    overlayIp: '10.99.0.1/24',
    consent: 'ask',
    maxTechnicians: 3,
    idleMinutes: 0,
    idleRemainingSeconds: null,
    allow: null,
    deviceFingerprint: DEVICE,
    deviceName: 'front-desk',
    technicians: [],
    supernodes: [{ address: '127.0.0.1:7654', registered: true, rttMs: 0.4 }],
    error: null,
    ...changes,
  }
}

/** The console after logging in and taking `status` in at `now`. */
function consoleWith(status: AssistanceStatus, now = NOW): Page {
  return withStatus(loggedIn(), status, now).page
}

t.test('loading: before the first answer only the view is known', (t) => {
  t.same(viewState({ ...INITIAL_PAGE }, NOW), { state: 'loading', view: 'loading', loginError: null })
  t.end()
})

t.test('login: the form, with its message if any', (t) => {
  t.same(viewState(loggedOut(), NOW), { state: 'login', view: 'login', loginError: null })
  t.same(viewState(loggedOut('Your session has ended'), NOW), { state: 'login', view: 'login', loginError: 'Your session has ended' })
  t.end()
})

t.test('logging out starts again from the one initial value, every field of it', (t) => {
  t.ok(Object.isFrozen(INITIAL_PAGE), 'the initial value cannot be changed by a page that started from it')
  // a page with every field away from its initial value
  let page = consoleWith(onStatus(HOUR, { adminAccess: true, idleMinutes: 30, idleRemainingSeconds: 1800, technicians: [technician()] }))
  page = { ...switching(page), secrets: { token: 'ovl1.x', adminPassword: 'pw', expiresAt: page.status!.expiresAt! }, expired: true, expiredAt: 'then', loginError: 'l', actionError: 'a', connectionError: 'c', notice: 'n', fastUntil: NOW + 1 }
  for (const key of Object.keys(INITIAL_PAGE) as (keyof Page)[]) t.not(page[key], INITIAL_PAGE[key], `the busy page has its own ${key}`)
  t.same(loggedOut(), { ...INITIAL_PAGE, view: 'login' }, 'logged out: the initial value, in the login view')
  t.same(loggedIn(), { ...INITIAL_PAGE, view: 'console' }, 'logged in: the initial value, in the console')
  t.same(Object.keys(loggedOut('x')).sort(), Object.keys(INITIAL_PAGE).sort(), 'with no field more or less')
  t.end()
})

t.test("the device's name and key, as technicians are told them, on and off", (t) => {
  t.same(viewState(consoleWith(offStatus()), NOW).device, { name: 'front-desk', fingerprint: DEVICE })
  t.same(viewState(consoleWith(onStatus(HOUR, { deviceName: 'Front desk (ntop)' })), NOW).device, { name: 'Front desk (ntop)', fingerprint: DEVICE })
  t.notOk('device' in viewState(loggedOut(), NOW), 'not before logging in')
  t.end()
})

t.test('off: nobody can connect; the options are offered', (t) => {
  const v = viewState(consoleWith(offStatus()), NOW)
  t.match(v, {
    state: 'off',
    badge: 'Off',
    toggle: { checked: false, busy: false, disabled: false, word: 'Off' },
    text: 'Nobody can connect to this device.',
    error: null,
    notice: null,
    options: { hidden: false, disabled: false },
    session: null,
  })
  t.same([v.technicians, v.supernodes], [[], []])
  const failed = viewState(consoleWith(offStatus({ error: 'cannot open /dev/net/tun' })), NOW)
  t.equal(failed.state, 'off', 'a failed switch-on seen later is still off')
  t.equal(failed.notice, 'The last attempt to switch on failed: cannot open /dev/net/tun', 'with the failure as a notice')
  t.end()
})

t.test('connecting: a switch in flight, either way', (t) => {
  const on = viewState(switching(consoleWith(offStatus())), NOW)
  t.match(on, { state: 'connecting', badge: 'Working…', toggle: { checked: true, busy: true, disabled: true, word: '…' }, text: 'Switching on…', options: { hidden: false, disabled: true } })
  const off = viewState(switching(consoleWith(onStatus(HOUR))), NOW)
  t.match(off, { state: 'connecting', toggle: { checked: false, busy: true, disabled: true }, text: 'Switching off…', options: { hidden: true, disabled: true } })
  t.notOk(canSwitch(switching(consoleWith(offStatus())), NOW), 'a second press waits for the first')
  t.ok(switching(consoleWith(onStatus(HOUR))).switchingOff, 'switching off is remembered: the next "off" is ours, not an expiry')
  t.end()
})

t.test('on: the session card counts down; the token only on the page that switched on', (t) => {
  const page = consoleWith(onStatus(HOUR, { adminAccess: true }))
  const v = viewState(page, NOW + 1_000)
  t.match(v, { state: 'on', badge: 'On', toggle: { checked: true, busy: false, disabled: false, word: 'On' }, error: null, notice: null, options: { hidden: true } })
  t.match(v.text, /^A technician with the join token can ask to reach this device until .+; you allow or deny each one\.$/)
  t.match(viewState(consoleWith(onStatus(HOUR, { consent: 'auto' })), NOW).text, /^A technician with the join token can reach this device until .+ \(at most 3 at once\)\.$/, 'consent auto says so')
  t.match(v.session, { msLeft: HOUR - 1_000, overlayIp: '10.99.0.1/24', adminAccess: 'On', token: null, command: null, adminPassword: null, passwordMissing: true }, 'after a reload: no token, and the password is said to be gone')
  t.equal(v.supernodes.length, 1, 'the supernodes are listed')

  const secrets = { token: 'ovl1.abc', adminPassword: 'pw', expiresAt: page.status!.expiresAt! }
  const mine = viewState({ ...page, secrets }, NOW)
  t.match(mine.session, { token: 'ovl1.abc', command: 'sudo overlan edge --join-file token.txt --name "Your name"', adminPassword: 'pw', passwordMissing: false }, 'the page that switched on shows the token and the command')
  const other = withStatus({ ...page, secrets }, onStatus(2 * HOUR), NOW).page
  t.equal(other.secrets, null, 'a session switched on elsewhere has other secrets: these are dropped')
  t.end()
})

t.test('on: a client clock that differs from the service counts from remainingSeconds', (t) => {
  // the service says 30 minutes are left of a session that, by this clock, ends in an hour
  const skewed = consoleWith(onStatus(HOUR, { remainingSeconds: 1_800 }))
  t.equal(msLeft(skewed, NOW), 1_800_000, 'the countdown follows the service')
  t.equal(msLeft(consoleWith(onStatus(HOUR, { remainingSeconds: 3_599 })), NOW), HOUR, 'within a second: expiresAt itself')
  t.end()
})

t.test('expired: at zero, when the service says off at the end, and when the audit log says so', (t) => {
  const page = consoleWith(onStatus(3_000))
  const atZero = viewState(page, NOW + 3_000)
  t.match(atZero, { state: 'expired', badge: 'Expired', toggle: { checked: false, disabled: true, word: 'Off' }, session: null }, 'at zero, before the service has said anything')
  t.match(atZero.text, /^The session expired at .+ and its key was destroyed: nobody can connect\. Switch on for a new session\.$/)
  t.notOk(canSwitch(page, NOW + 3_000), 'the switch waits for the service to say it expired')

  const told = withStatus(page, offStatus(), NOW + 3_200)
  t.equal(told.ended, 'expired', 'the service then says off: the session ended by expiring')
  t.equal(viewState(told.page, NOW + 3_200).state, 'expired')
  t.equal(viewState(withStatus(told.page, offStatus(), NOW + 5_000).page, NOW + 5_000).state, 'expired', 'and it stays expired on the next answers')
  t.equal(viewState(switching(told.page), NOW + 6_000).state, 'connecting', 'until the owner switches again')

  // off long before the end: switched off elsewhere, unless the audit log says it expired
  const early = withStatus(consoleWith(onStatus(HOUR)), offStatus(), NOW + 60_000)
  t.equal(early.ended, 'elsewhere')
  t.match(viewState(early.page, NOW + 60_000), { state: 'off', notice: 'Assistance was switched off outside this page.' })
  const expired = withAuditVerdict(early.page, [{ event: 'enable' }, { event: 'expire' }, { event: 'connection-test' }])
  t.match(viewState(expired, NOW + 60_000), { state: 'expired', notice: null }, 'the audit log’s last end is an expiry')
  t.equal(withAuditVerdict(early.page, [{ event: 'expire' }, { event: 'enable' }, { event: 'disable' }]), early.page, 'its last end is a disable: unchanged')
  t.equal(withAuditVerdict(early.page, null), early.page, 'no audit log: unchanged')
  t.end()
})

t.test('error: lost contact, a refused switch, an edge that is not running', (t) => {
  const lost = viewState({ ...consoleWith(onStatus(HOUR)), connectionError: 'Cannot reach the assistance service. Is it running?' }, NOW)
  t.match(lost, { state: 'error', badge: 'Error', error: 'Cannot reach the assistance service. Is it running?', text: 'The console has lost contact with the assistance service.' })

  const refused = viewState({ ...consoleWith(offStatus()), actionError: 'Could not switch on: no TAP' }, NOW)
  t.match(refused, { state: 'error', error: 'Could not switch on: no TAP', text: 'Assistance is off.', notice: null, toggle: { checked: false } })
  const stillOn = { ...consoleWith(onStatus(HOUR)), actionError: 'Could not switch off: busy' }
  t.equal(viewState(stillOn, NOW).text, 'Assistance is still on.')
  t.equal(withStatus(stillOn, onStatus(HOUR), NOW).page.actionError, 'Could not switch off: busy', 'a refused switch stays while the service is unchanged')
  t.equal(withStatus(stillOn, offStatus(), NOW).page.actionError, null, 'and goes once the service changes by other means')

  const edgeDown = viewState(consoleWith(onStatus(HOUR, { error: 'the edge stopped' })), NOW)
  t.match(edgeDown, { state: 'error', error: "The device's edge is not running: the edge stopped. Switch off and on again.", text: "Assistance is on, but the device's edge is not running." })
  t.equal(withStatus({ ...consoleWith(offStatus()), connectionError: 'x' }, offStatus(), NOW).page.connectionError, null, 'the next answer ends a lost contact')
  t.end()
})

t.test('technicians: a request is listed as waiting, an admitted one as connected; any change of either is noticed (the audit log has news)', (t) => {
  const waiting = technician({ state: 'waiting', ip: null, path: null, certificate: null, decidedBy: null, lastSeenMs: null })
  const none = consoleWith(onStatus(HOUR))
  const asked = withStatus(none, onStatus(HOUR, { technicians: [waiting] }), NOW)
  t.ok(asked.techniciansChanged, 'a request')
  t.same([viewState(asked.page, NOW).waiting, viewState(asked.page, NOW).technicians], [[waiting], []], 'listed as waiting')
  const admitted = technician()
  const allowed = withStatus(asked.page, onStatus(HOUR, { technicians: [admitted] }), NOW)
  t.ok(allowed.techniciansChanged, 'the same ID admitted: a change')
  t.same([viewState(allowed.page, NOW).waiting, viewState(allowed.page, NOW).technicians], [[], [admitted]], 'listed as connected')
  t.notOk(withStatus(allowed.page, onStatus(HOUR, { technicians: [admitted] }), NOW).techniciansChanged, 'the same list again: nothing new')
  const gone = withStatus(allowed.page, onStatus(HOUR, { technicians: [{ ...admitted, state: 'disconnected' }] }), NOW)
  t.ok(gone.techniciansChanged, 'disconnected')
  t.same([viewState(gone.page, NOW).waiting, viewState(gone.page, NOW).technicians], [[], []], 'ended requests are in the audit log, not the lists')
  t.end()
})

t.test('the idle countdown: from the service\'s idleRemainingSeconds, beside the session countdown; none without an idle timeout', (t) => {
  const page = consoleWith(onStatus(HOUR, { idleMinutes: 15, idleRemainingSeconds: 900 }))
  t.equal(idleMsLeft(page, NOW + 60_000), 840_000, 'a minute later: 14 min left')
  t.equal(viewState(page, NOW + 60_000).session!.idleMsLeft, 840_000)
  t.equal(idleMsLeft(page, NOW + 901_000), 0, 'never below zero')
  t.equal(viewState(consoleWith(onStatus(HOUR)), NOW).session!.idleMsLeft, null, 'idleMinutes 0: no idle countdown')
  t.equal(withStatus(page, offStatus(), NOW).page.idleDeadline, null, 'switched off: gone')
  t.end()
})
