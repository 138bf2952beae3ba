// A console session that the service no longer knows (it restarted, or the session was logged out
// elsewhere): whichever call meets the 401 first, a status poll or a button's request, the page goes
// back to its login form with one message, and takes the session's secrets off the page.
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import { startTestAssist, type TestAssist } from '../fixtures/assist.js'
import { isRefusedRequest, launchChromium, waitForState, watchConsole, WAIT_MS } from './chromium.js'

const SESSION_ENDED = 'Your session has ended (the service may have restarted): log in again.'

async function logIn(page: Page, a: TestAssist): Promise<void> {
  await waitForState(page, 'login')
  await page.fill('#login-token', a.token)
  await page.click('#login-submit')
}

/** A service and a browser page logged in to its console (off). */
async function openConsole(t: Test): Promise<{ a: TestAssist; page: Page }> {
  const a = await startTestAssist(t)
  const browser = await launchChromium(t)
  const page = await (await browser.newContext()).newPage()
  await page.goto(`${a.base}/`)
  await logIn(page, a)
  await waitForState(page, 'off')
  return { a, page }
}

/** Ends the page's console session on the service's side, as a restart of the service would. */
async function endSessionOnService(page: Page): Promise<void> {
  // the page's own origin, so the cookie goes along; the page itself is not told
  const status = await page.evaluate(() => fetch('/api/logout', { method: 'POST' }).then((r) => r.status))
  if (status !== 200) throw new Error(`logout answered ${status}`)
}

t.test('a status poll that meets a 401 goes back to the login form, and the token leaves the page', async (t) => {
  const { a, page } = await openConsole(t)
  await page.click('#toggle')
  await waitForState(page, 'on')
  const token = ((await page.locator('#join-token').textContent()) ?? '').trim()
  t.match(token, /^ovl2\./, 'switched on from the page: its join token is shown')
  const problems = watchConsole(page)

  await endSessionOnService(page)
  await waitForState(page, 'login', WAIT_MS)
  t.equal(await page.locator('#login-error').textContent(), SESSION_ENDED, 'the login form says the session ended')
  t.ok(await page.locator('#console-view').isHidden(), 'the console is hidden')
  t.notOk((await page.content()).includes(token), 'and the join token is gone from the page, hidden copies included')
  t.ok(
    problems.length > 0 && problems.every((p) => isRefusedRequest(p, '/api/assistance', 401) || isRefusedRequest(p, '/api/audit', 401)),
    'the console shows only the refused requests',
    { found: problems },
  )
  t.equal((await a.api('GET', '/api/assistance')).json.enabled, true, 'assistance itself stays on')

  await logIn(page, a)
  await waitForState(page, 'on')
  t.equal(await page.locator('#login-error').isHidden(), true, 'logging in again opens the console')
  t.ok(await page.locator('#token-missing').isVisible(), 'which, like a reload, no longer has the token')
  await a.api('POST', '/api/assistance', { enabled: false })
})

t.test('a button whose request meets a 401 goes back to the same login form', async (t) => {
  const { a, page } = await openConsole(t)
  // status polls are held back, so that the connection test is the call that meets the 401
  await page.route('**/api/assistance', () => {})
  await endSessionOnService(page)
  await page.click('#test-connection')
  await waitForState(page, 'login', WAIT_MS)
  t.equal(await page.locator('#login-error').textContent(), SESSION_ENDED, 'the same message as for a poll')
  t.equal(await page.locator('#test-connection').textContent(), 'Test connection', 'the test button is ready again for the next session')
  t.ok(await page.locator('#test-error').isHidden(), 'and the refusal is not shown as a failed test')
  const audit = (await a.api('GET', '/api/audit')).json as unknown as { event: string }[]
  t.notOk(audit.some((r) => r.event === 'connection-test'), 'the service ran no test for the lost session')
  await page.unroute('**/api/assistance')
})
