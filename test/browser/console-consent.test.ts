// Consent in the console (issue 13), in headless Chromium at laptop and phone widths: the owner
// switches on (consent "ask" by default, an idle timeout chosen) and sees the idle countdown beside
// the session's; a technician's request appears within 2 s with its name, short fingerprint and
// where it comes from; Deny answers it "denied"; Allow admits the next one, which is then listed
// with its path and traffic; Disconnect revokes it (its edge is refused by the supernode and stops).
import t from 'tap'
import type { Page } from 'playwright-core'
import { REVOKED_DISCONNECTED } from '../../src/edge/registration.js'
import { startTestAssist, type TestAssist } from '../fixtures/assist.js'
import { technician, type TestTechnician } from '../fixtures/enrollment.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { artifactPath, launchChromium, waitForState, watchConsole, WAIT_MS, type InPage } from './chromium.js'

const VIEWPORTS = { laptop: { width: 1280, height: 800 }, phone: { width: 360, height: 740 } }
/** The issue's bound for a request to show on the console. */
const REQUEST_SHOWN_WITHIN_MS = 2_000

async function seconds(page: Page, id: string): Promise<number> {
  const text = ((await page.locator(`#${id}`).textContent()) ?? '').trim()
  const match = /^(\d+):(\d\d):(\d\d)$/.exec(text)
  if (match === null) throw new Error(`#${id} reads "${text}", not H:MM:SS`)
  return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3])
}

/** Polls as the device edge's responder does (every 20 ms here), until the answer is not "waiting". */
async function decided(tech: TestTechnician): Promise<ReturnType<TestTechnician['poll']>> {
  for (let i = 0; i < 250; i++) {
    const answer = tech.poll()
    if (answer.state !== 'waiting') return answer
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return tech.poll()
}

/** A request made now: the time until its row shows on the page. */
async function requestShown(page: Page, a: TestAssist, name: string): Promise<{ tech: TestTechnician; ms: number }> {
  const tech = technician(t, a.configs[0]!, name, '203.0.113.40:51000')
  const asked = Date.now()
  tech.poll()
  await page.locator('#waiting-list li', { hasText: name }).waitFor({ timeout: WAIT_MS })
  return { tech, ms: Date.now() - asked }
}

for (const [width, viewport] of Object.entries(VIEWPORTS)) {
  t.test(`${width} (${viewport.width} px): idle countdown, a request shown within 2 s, Deny, Allow, Disconnect`, async (t) => {
    const a = await startTestAssist(t)
    const browser = await launchChromium(t)
    const page = await (await browser.newContext({ viewport })).newPage()
    await page.goto(`${a.base}/`)
    await waitForState(page, 'login')
    await page.fill('#login-token', a.token)
    await page.click('#login-submit')
    await waitForState(page, 'off')
    const problems = watchConsole(page)

    t.ok(await page.locator('#consent-ask').isChecked(), '"Ask me before each technician joins" is ticked by default')
    await page.check('input[name="idle"][value="15"]')
    await page.click('#toggle')
    await waitForState(page, 'on')
    t.match((await a.api('GET', '/api/assistance')).json, { consent: 'ask', idleMinutes: 15 }, 'switched on with consent "ask" and a 15 min idle timeout')
    t.ok(await page.locator('#idle-box').isVisible(), 'the idle countdown is shown')
    const idle = await seconds(page, 'idle-countdown')
    t.ok(idle > 890 && idle <= 900, `it starts near 15 min (${idle} s)`)
    await page.waitForFunction((from) => Number((globalThis as unknown as InPage).document.getElementById('idle-countdown')?.dataset.seconds) <= from - 2, idle, { timeout: WAIT_MS })
    t.ok((await seconds(page, 'idle-countdown')) <= idle - 2, 'and goes down with the time')
    t.ok(await page.locator('#countdown').isVisible(), 'beside the session countdown')
    t.equal(await page.locator('#consent-state').textContent(), 'You allow each technician')

    // Deny
    const mallory = await requestShown(page, a, 'Mallory')
    t.ok(mallory.ms <= REQUEST_SHOWN_WITHIN_MS, `the request showed in ${mallory.ms} ms (at most ${REQUEST_SHOWN_WITHIN_MS})`)
    const row = page.locator('#waiting-list li', { hasText: 'Mallory' })
    const text = (await row.textContent()) ?? ''
    t.ok(text.includes(`${mallory.tech.fingerprint.slice(0, 4)} ${mallory.tech.fingerprint.slice(4, 8)}`), 'with its short fingerprint')
    t.ok(text.includes('203.0.113.40:51000'), 'and where it comes from')
    t.equal(await page.locator('#waiting-count').textContent(), '1')
    if (width === 'phone') {
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')
      t.equal(overflow, 0, 'a request with its buttons fits a 360 px screen')
    }
    await page.screenshot({ path: await artifactPath(`console-request-${width}.png`), fullPage: true })
    t.comment(`screenshot: ${await artifactPath(`console-request-${width}.png`)}`)
    await row.locator('button[data-action="deny"]').click()
    t.same(await decided(mallory.tech), { state: 'denied' }, 'Deny: the request is answered "denied"')
    await page.locator('#waiting-empty').waitFor({ state: 'visible', timeout: WAIT_MS })
    t.equal(await page.locator('#waiting-list li').count(), 0, 'and leaves the list')

    // Allow, then Disconnect
    const alice = await requestShown(page, a, 'Alice (ACME support)')
    t.ok(alice.ms <= REQUEST_SHOWN_WITHIN_MS, `the next request showed in ${alice.ms} ms`)
    await page.locator('#waiting-list li', { hasText: 'Alice' }).locator('button[data-action="allow"]').click()
    const answer = await decided(alice.tech)
    t.equal(answer.state, 'admitted', 'Allow: the technician gets its certificate')
    if (answer.state !== 'admitted') return
    const { edge, tap } = await alice.tech.join(answer.certificate)
    const device = a.taps[0]!
    for (let i = 0; i < 100 && device.written.length === 0; i++) {
      tap.inject(ipv4Frame(device.mac, tap.mac, edge.overlay!.address, '10.99.0.1'))
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const connected = page.locator('#technician-list li', { hasText: 'Alice' })
    await connected.locator('.tag-direct, .tag-relay, .tag-punching').waitFor({ timeout: WAIT_MS })
    await page.waitForFunction(() => /traffic ↓ [1-9]/.test((globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }).document.querySelector('#technician-list li')?.textContent ?? ''), undefined, { timeout: WAIT_MS })
    t.match(await connected.textContent(), /overlay 10\.99\.0\.\d+.*since .*traffic ↓ [1-9]/, 'listed with its address, since when and its traffic')
    t.equal(await page.locator('#technician-count').textContent(), '1')
    await page.screenshot({ path: await artifactPath(`console-connected-${width}.png`), fullPage: true })

    const stopped = new Promise<string>((resolve) => edge.once('stopped', resolve))
    await connected.locator('button[data-action="disconnect"]').click()
    t.equal(await stopped, REVOKED_DISCONNECTED, "Disconnect: the technician's certificate is revoked, its edge stops, 'disconnected'")
    await page.locator('#technicians-empty').waitFor({ state: 'visible', timeout: WAIT_MS })
    t.equal(await page.locator('#technician-list li').count(), 0, 'and it leaves the list')
    await page.locator('#audit-list li[data-event="technician-disconnected"]').waitFor({ timeout: WAIT_MS })
    const events = await Promise.all((await page.locator('#audit-list li').all()).map((li) => li.getAttribute('data-event')))
    for (const event of ['technician-request', 'technician-denied', 'technician-admitted', 'technician-disconnected']) t.ok(events.includes(event), `the audit section lists ${event}`)
    t.same(problems, [], 'no console errors or warnings')
  })
}
