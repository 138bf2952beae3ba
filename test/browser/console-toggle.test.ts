// The console page in headless Chromium, as the device's owner uses it: log in, switch assistance on
// with admin access, hand out the token (a technician asks with it, is allowed and shows up), test
// the connection, switch off; then a short session that expires by itself while the page watches.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Page } from 'playwright-core'
import { decodeJoinTokenV2 } from '../../src/assist/join-token.js'
import { startAssistServer } from '../../src/assist/server.js'
import { startTestAssist, WEB_DIR } from '../fixtures/assist.js'
import { technician } from '../fixtures/enrollment.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { artifactPath, isRefusedRequest, launchChromium, waitForState, watchConsole, WAIT_MS, type InPage } from './chromium.js'

const LAPTOP = { width: 1280, height: 800 }
const PHONE = { width: 360, height: 740 }
/**
 * The expiring session's length, and how long the page may take to show it expired. Long enough that
 * the page still sees several seconds tick after a reload on a busy machine (the enable call alone
 * was seen taking 2.7 s at a load of 20 on 2 cores: a 3 s session had ended before the page loaded).
 */
const SHORT_SESSION_SECONDS = 10
const EXPIRY_SEEN_WITHIN_MS = SHORT_SESSION_SECONDS * 1000 + 5_000

/** The countdown as a user reads it, "H:MM:SS", in seconds. */
async function countdownSeconds(page: Page): Promise<number> {
  const text = (await page.locator('#countdown').textContent()) ?? ''
  const match = /^(\d+):(\d\d):(\d\d)$/.exec(text.trim())
  if (match === null) throw new Error(`the countdown reads "${text}", not H:MM:SS`)
  return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3])
}

/** The hero card's state colour: each state must look different, not only read different. */
async function stateColour(page: Page): Promise<string> {
  return page.evaluate<string>("getComputedStyle(document.querySelector('.hero')).borderTopColor")
}

t.test('log in, switch on with admin access, a technician joins, test the connection, switch off', async (t) => {
  const a = await startTestAssist(t)
  const browser = await launchChromium(t)
  const context = await browser.newContext({ viewport: LAPTOP })
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: a.base })
  const page = await context.newPage()
  const problems = watchConsole(page)
  const colours = new Map<string, string>()

  await page.goto(`${a.base}/`)
  await waitForState(page, 'login')
  t.ok(await page.locator('#login-form').isVisible(), 'the login form is shown')
  t.match(await page.locator('#login-view').textContent(), /api-token/, 'it says where the token is')
  t.ok(await page.locator('#console-view').isHidden(), 'the console is not shown before logging in')

  await page.fill('#login-token', 'not-the-token')
  await page.click('#login-submit')
  await page.locator('#login-error').waitFor({ timeout: WAIT_MS })
  t.match(await page.locator('#login-error').textContent(), /wrong token/i, 'a wrong token is refused with a message')
  t.equal(await page.locator('main').getAttribute('data-state'), 'login', 'and the login form stays')
  await page.screenshot({ path: await artifactPath('console-login-refused.png'), fullPage: true })
  t.comment(`screenshot: ${await artifactPath('console-login-refused.png')}`)
  // Chromium logs every refused fetch; before logging in there are exactly two, and nothing else
  const beforeLogin = problems.splice(0)
  t.ok(
    beforeLogin.length === 2 && isRefusedRequest(beforeLogin[0]!, '/api/assistance', 401) && isRefusedRequest(beforeLogin[1]!, '/api/login', 401),
    'before logging in, the console shows only the two refused requests: the session check and the wrong token',
    { found: beforeLogin },
  )

  await page.fill('#login-token', a.token)
  await page.click('#login-submit')
  await waitForState(page, 'off')
  colours.set('off', await stateColour(page))
  t.equal(await page.getAttribute('#toggle', 'role'), 'switch')
  t.equal(await page.getAttribute('#toggle', 'aria-checked'), 'false', 'the switch is off')
  t.equal(await page.locator('#state-badge').textContent(), 'Off')
  t.ok(await page.locator('#login-view').isHidden(), 'the login form is gone')

  // switch on, for 4 hours with admin access; the request is held to see the page wait for it
  await page.check('input[name="duration"][value="14400"]')
  await page.check('#admin-access')
  let release = (): void => {}
  const held = new Promise<void>((resolve) => (release = resolve))
  await page.route('**/api/assistance', async (route) => {
    if (route.request().method() === 'POST') await held
    await route.continue()
  })
  await page.click('#toggle')
  await waitForState(page, 'connecting')
  colours.set('connecting', await stateColour(page))
  t.equal(await page.getAttribute('#toggle', 'aria-busy'), 'true', 'the switch says it is busy while the request is in flight')
  t.match(await page.locator('#state-text').textContent(), /switching on/i)
  release()
  await waitForState(page, 'on')
  await page.unroute('**/api/assistance')
  colours.set('on', await stateColour(page))
  t.equal(await page.getAttribute('#toggle', 'aria-checked'), 'true', 'the switch is on')

  const token = ((await page.locator('#join-token').textContent()) ?? '').trim()
  t.match(token, /^ovl2\./, 'the join token is shown')
  t.equal((await page.locator('#join-command').textContent())?.trim(), 'sudo overlan edge --join-file token.txt --name "Your name"', "the technician's one command is shown (the token goes in the file, out of the process list)")
  t.ok(await page.locator('#copy-token').isVisible(), 'with a Copy button')
  await page.click('#copy-token')
  t.equal(await page.evaluate<string>('navigator.clipboard.readText()'), token, 'Copy puts the token on the clipboard')
  const decoded = decodeJoinTokenV2(token)
  const status = (await a.api('GET', '/api/assistance')).json
  t.equal(new Date(decoded.expiresAt).toISOString(), status.expiresAt, 'the token is the running session’s')
  t.ok((status.remainingSeconds as number) > 14_390 && (status.remainingSeconds as number) <= 14_400, 'the chosen duration (4 h) was asked for')
  t.equal(status.adminAccess, true, 'admin access was asked for')
  t.equal(status.consent, 'ask', 'consent "ask": the console asks unless told otherwise')

  t.match(await page.locator('#admin-password').textContent(), /^[2-9a-zA-Z]{16}$/, 'the admin password is shown')
  t.match(await page.locator('#password-box').textContent(), /shown once/i, 'and said to be shown once')
  t.ok(await page.locator('#copy-password').isVisible(), 'with a Copy button')
  t.equal(await page.locator('#overlay-ip').textContent(), '10.99.0.1/24', "the device's overlay IP is shown")
  t.equal(await page.locator('#device-name').textContent(), decoded.deviceName, "the device's name, as the token tells technicians")
  t.equal(await page.locator('#device-key').getAttribute('title'), status.deviceFingerprint, "and its key's fingerprint (short, the whole one in the title)")

  const first = await countdownSeconds(page)
  t.ok(first > 14_390 && first <= 14_400, `the countdown starts near 4 h (${first} s)`)
  await page.waitForFunction((from) => Number((globalThis as unknown as InPage).document.getElementById('countdown')?.dataset.seconds) <= from - 2, first, { timeout: WAIT_MS })
  const later = await countdownSeconds(page)
  t.ok(later <= first - 2 && later >= first - 4, `the countdown goes down with the time (${first} → ${later})`)

  t.ok(await page.locator('#technicians-empty').isVisible(), 'no technician yet')
  t.equal(await page.locator('#technician-list li').count(), 0)
  const snode = page.locator(`#supernode-list li[data-address="127.0.0.1:${a.server.supernode!.port}"][data-registered="true"]`)
  await snode.waitFor({ timeout: WAIT_MS })
  t.pass('the embedded supernode is listed, registered')

  await page.click('#test-connection')
  const tested = page.locator(`#test-list li[data-address="127.0.0.1:${a.server.supernode!.port}"][data-reachable="true"]`)
  await tested.waitFor({ timeout: WAIT_MS })
  t.match(await tested.textContent(), /reachable.*round trip \d+(\.\d)? ms/, 'the connection test shows the supernode reachable, with its round-trip time')
  const sentences = await page.locator('#test-sentences li').allTextContents()
  t.match(sentences[0], /^UDP to the supernode 127\.0\.0\.1 works \((under 1|\d+) ms\)\.$/, 'the test says in a sentence that UDP works')
  t.ok(sentences.includes('This device is not behind NAT (the supernode sees its own address): direct connections will work.'), `and what it found about NAT: ${sentences.join(' | ')}`)

  await page.screenshot({ path: await artifactPath('console-on-laptop.png'), fullPage: true })
  t.comment(`screenshot: ${await artifactPath('console-on-laptop.png')}`)

  // a technician asks with the token as shown on the page, is allowed, and appears in the list by itself
  const asking = technician(t, a.configs[0]!, 'alice')
  asking.poll()
  await page.locator('#waiting-list li', { hasText: 'alice' }).locator('button[data-action="allow"]').click()
  const answer = await (async () => {
    for (let i = 0; i < 100; i++) {
      const x = asking.poll()
      if (x.state !== 'waiting') return x
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return asking.poll()
  })()
  if (answer.state !== 'admitted') throw new Error(`alice was not admitted: ${answer.state}`)
  const { edge: tech, tap } = await asking.join(answer.certificate)
  tap.inject(ipv4Frame(a.taps[0]!.mac, tap.mac, tech.overlay!.address, '10.99.0.1'))
  const alice = page.locator('#technician-list li', { hasText: 'alice' })
  await alice.waitFor({ timeout: WAIT_MS })
  t.equal(await page.locator('#technician-count').textContent(), '1', 'the technician appears in the list without a reload')
  await page.locator('#audit-list li[data-event="technician-joined"]').waitFor({ timeout: WAIT_MS })
  t.pass('and the join is in the audit log')

  await page.setViewportSize(PHONE)
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')
  t.equal(overflow, 0, 'nothing is wider than a 360 px phone screen')
  await page.evaluate('window.scrollTo(0, 0)')
  await page.screenshot({ path: await artifactPath('console-on-phone.png') })
  await page.screenshot({ path: await artifactPath('console-on-phone-full.png'), fullPage: true })
  t.comment(`screenshots: ${await artifactPath('console-on-phone.png')} (the first screen), ${await artifactPath('console-on-phone-full.png')} (the whole page)`)
  await page.setViewportSize(LAPTOP)

  // switch off with the keyboard: the switch is a focusable button
  await page.focus('#toggle')
  await page.keyboard.press('Space')
  await waitForState(page, 'off')
  t.equal(await page.getAttribute('#toggle', 'aria-checked'), 'false', 'the switch is off again')
  t.equal((await a.api('GET', '/api/assistance')).json.enabled, false, 'the service is off')
  t.ok(await page.locator('#session').isHidden(), 'the session card is gone')
  t.notOk((await page.content()).includes(token), 'the page forgot the token')
  t.equal(await page.locator('#technician-list li').count(), 0, 'nobody is listed any more')

  await page.locator('#audit-list li[data-event="disable"]').waitFor({ timeout: WAIT_MS })
  const events = await Promise.all((await page.locator('#audit-list li').all()).map((li) => li.getAttribute('data-event')))
  t.ok(events.includes('enable'), 'the audit section lists the enable')
  t.equal(events[0], 'disable', 'and, newest first, the disable')
  t.ok(events.indexOf('enable') > events.indexOf('technician-joined'), 'in order: enable, joined, …, disable')

  t.same(problems, [], 'no console errors or warnings after logging in')
  t.equal(new Set(colours.values()).size, colours.size, `off, connecting and on each have their own colour (${[...colours].map(([k, v]) => `${k} ${v}`).join(', ')})`)
})

t.test('a short session expires while the page watches', async (t) => {
  const a = await startTestAssist(t)
  const browser = await launchChromium(t)
  const context = await browser.newContext({ viewport: LAPTOP })
  const page = await context.newPage()
  await page.goto(`${a.base}/`)
  await waitForState(page, 'login')
  await page.fill('#login-token', a.token)
  await page.click('#login-submit')
  await waitForState(page, 'off')
  const offColour = await stateColour(page)
  const problems = watchConsole(page)

  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: SHORT_SESSION_SECONDS })
  t.equal(on.status, 200, `enabled through the API for ${SHORT_SESSION_SECONDS} s`)
  await page.reload()
  await waitForState(page, 'on')
  const left = await countdownSeconds(page)
  t.ok(left >= 1 && left <= SHORT_SESSION_SECONDS, `the countdown shows at most ${SHORT_SESSION_SECONDS} s (${left} s)`)
  t.ok(await page.locator('#token-missing').isVisible(), 'after a reload the page says where the token went')
  t.match(await page.locator('#token-missing').textContent(), /switch off and on again for a new one/)
  t.ok(await page.locator('#join-token').isHidden())
  const onColour = await stateColour(page)
  // every value the countdown shows from now on: it must tick each second by itself, not jump
  // from one status poll (every 2 s) to the next
  await page.evaluate(`(() => {
    const countdown = document.getElementById('countdown')
    const seen = (window.countdownSeen = [countdown.textContent])
    new MutationObserver(() => {
      if (seen.at(-1) !== countdown.textContent) seen.push(countdown.textContent)
    }).observe(countdown, { childList: true, characterData: true, subtree: true })
  })()`)

  await waitForState(page, 'expired', EXPIRY_SEEN_WITHIN_MS)
  const seen = await page.evaluate<string[]>('window.countdownSeen')
  const seconds = seen.filter((text) => /^\d+:\d\d:\d\d$/.test(text)).map((text) => Number(text.split(':')[2]))
  t.ok(seconds.length >= 2 && seconds.every((s, i) => i === 0 || s === seconds[i - 1]! - 1), `the countdown ticked down one second at a time (${seen.join(' → ')})`)
  t.equal(await page.getAttribute('#toggle', 'aria-checked'), 'false', 'the switch shows off')
  t.equal(await page.locator('#state-badge').textContent(), 'Expired')
  t.match(await page.locator('#state-text').textContent(), /expired/i, 'the page says the session expired')
  t.ok(await page.locator('#session').isHidden(), 'the session card is gone')
  // the page's countdown reaches zero by the page's clock; the service's own expiry timer may fire a
  // moment later on a busy machine: the service says off within WAIT_MS
  let serviceOff = false
  for (const start = Date.now(); !serviceOff && Date.now() - start < WAIT_MS; await new Promise((resolve) => setTimeout(resolve, 100))) {
    serviceOff = (await a.api('GET', '/api/assistance')).json.enabled === false
  }
  t.ok(serviceOff, 'the service is off')
  // it stays "expired" (not "off") after the service's answer, until the owner switches again
  await page.locator('#audit-list li[data-event="expire"]').waitFor({ timeout: WAIT_MS })
  t.equal(await page.locator('main').getAttribute('data-state'), 'expired', 'it stays expired once the service confirms')
  const expiredColour = await stateColour(page)
  t.not(expiredColour, offColour, 'expired looks different from off')
  t.not(expiredColour, onColour, 'and from on')
  await page.screenshot({ path: await artifactPath('console-expired.png'), fullPage: true })
  t.comment(`screenshot: ${await artifactPath('console-expired.png')}`)
  t.same(problems, [], 'no console errors or warnings')
})

t.test('when the device cannot start its edge, the page shows the service’s error', async (t) => {
  const failure = 'cannot open /dev/net/tun: run as root or grant CAP_NET_ADMIN'
  const stateDir = await mkdtemp(join(tmpdir(), 'overlan-console-'))
  t.teardown(() => rm(stateDir, { recursive: true, force: true }))
  const server = await startAssistServer(
    { listen: { host: '127.0.0.1', port: 0 }, stateDir, supernodes: [], deviceIp: { address: '10.99.0.1', prefix: 24 }, webDir: WEB_DIR, embeddedSupernodePort: 0 },
    {
      startEdge: () => Promise.reject(new Error(failure)),
    },
  )
  t.teardown(() => server.close())
  const apiToken = (await readFile(server.tokenPath, 'utf8')).trim()
  const browser = await launchChromium(t)
  const page = await (await browser.newContext({ viewport: LAPTOP })).newPage()
  await page.goto(server.url)
  await waitForState(page, 'login')
  await page.fill('#login-token', apiToken)
  await page.click('#login-submit')
  await waitForState(page, 'off')
  const offColour = await stateColour(page)
  const problems = watchConsole(page)

  await page.click('#toggle')
  await waitForState(page, 'error')
  t.match(await page.locator('#state-error').textContent(), new RegExp(`Could not switch on: .*${failure.replace(/[/]/g, '\\/')}`), 'the error names the cause and its fix')
  t.equal(await page.getAttribute('#toggle', 'aria-checked'), 'false', 'the switch stays off')
  t.equal(await page.locator('#state-badge').textContent(), 'Error')
  t.not(await stateColour(page), offColour, 'error looks different from off')
  await page.screenshot({ path: await artifactPath('console-error.png'), fullPage: true })
  t.comment(`screenshot: ${await artifactPath('console-error.png')}`)
  t.ok(problems.length === 1 && isRefusedRequest(problems[0]!, '/api/assistance', 503), 'the only console line is the refused request (503)', { found: problems })

  await page.reload()
  await waitForState(page, 'off')
  t.match(await page.locator('#state-notice').textContent(), /last attempt to switch on failed: .*\/dev\/net\/tun/, 'after a reload: off, with the last failure')
})
