// The console's session as the browser holds it: a cookie that scripts cannot read and other
// sites do not get, a strict CSP that the page obeys, and a page on another origin that tries to
// switch assistance on with the console's cookie and cannot.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import type { Page } from 'playwright-core'
import { SESSION_COOKIE } from '../../src/assist/api.js'
import { startTestAssist, type TestAssist } from '../fixtures/assist.js'
import { launchChromium, waitForState, watchConsole, WAIT_MS, type InPage } from './chromium.js'

async function logIn(page: Page, a: TestAssist): Promise<void> {
  await waitForState(page, 'login')
  await page.fill('#login-token', a.token)
  await page.click('#login-submit')
  await waitForState(page, 'off')
}

t.test('the session cookie is HttpOnly and SameSite=Strict; the CSP is sent and enforced', async (t) => {
  const a = await startTestAssist(t)
  const browser = await launchChromium(t)
  const context = await browser.newContext()
  const page = await context.newPage()
  const response = await page.goto(`${a.base}/`)
  const csp = response?.headers()['content-security-policy'] ?? ''
  t.match(csp, /default-src 'none'/, 'the page comes with a CSP')
  t.match(csp, /script-src 'self'(;|$)/, "scripts only from the console's own files")
  t.match(csp, /style-src 'self'(;|$)/)
  t.match(csp, /connect-src 'self'(;|$)/)
  t.notMatch(csp, /unsafe-inline|unsafe-eval/)

  await logIn(page, a)
  const problems = watchConsole(page)
  const cookies = await context.cookies(a.base)
  const session = cookies.find((c) => c.name === SESSION_COOKIE)
  t.ok(session !== undefined && session.value.length >= 32, 'logging in set the session cookie')
  t.equal(session?.httpOnly, true, 'HttpOnly')
  t.equal(session?.sameSite, 'Strict', 'SameSite=Strict')
  t.equal(session?.path, '/')
  const visible = await page.evaluate<string>('document.cookie')
  t.notOk(visible.includes(SESSION_COOKIE) || visible.includes(session!.value), 'document.cookie does not show it', { visible })
  t.equal(await page.locator('main').getAttribute('data-state'), 'off', 'and the page is logged in with it')

  // the CSP is enforced: an injected inline script does not run (it would run synchronously), and
  // the browser reports the violation
  const ran = await page.evaluate<boolean>(`(() => {
    document.addEventListener('securitypolicyviolation', (e) => (document.documentElement.dataset.violated = e.effectiveDirective), { once: true })
    const script = document.createElement('script')
    script.textContent = 'document.documentElement.dataset.injected = "ran"'
    document.body.append(script)
    return document.documentElement.dataset.injected === 'ran'
  })()`)
  t.equal(ran, false, 'an injected inline script is blocked')
  await page.waitForFunction(() => (globalThis as unknown as InPage).document.documentElement.dataset.violated !== undefined, undefined, { timeout: WAIT_MS })
  t.match(await page.evaluate<string>('document.documentElement.dataset.violated'), /^script-src/, 'by the CSP (script-src)')
  t.ok(problems.length === 1 && /inline script violates .*Content Security Policy/.test(problems[0]!.text), 'the only console line is the CSP refusing that script', { found: problems })

  await page.click('#logout')
  await waitForState(page, 'login')
  const after = await context.cookies(a.base)
  t.notOk(
    after.some((c) => c.name === SESSION_COOKIE && c.value !== ''),
    'logging out removes the cookie',
  )
  t.equal((await page.evaluate(() => fetch('/api/assistance').then((r) => r.status))), 401, 'and the old session no longer works')
})

/** A page on another origin that tries, with the console's cookie, to switch assistance on and to read its status. */
function attackerPage(target: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>not the console</title></head><body>
<iframe name="sink" title="sink"></iframe>
<iframe id="framed" title="framed" src="${target}/"></iframe>
<form id="form" method="POST" action="${target}/api/assistance?attempt=form" enctype="text/plain" target="sink">
  <input type="hidden" name='{"enabled":true,"pad":"' value='"}'>
</form>
<script>
const target = ${JSON.stringify(target)}
const results = {}
async function attempt(name, init) {
  try {
    const res = await fetch(target + '/api/assistance?attempt=' + name, { credentials: 'include', ...init })
    results[name] = { status: res.status, type: res.type, body: res.type === 'opaque' ? null : await res.text() }
  } catch (err) {
    results[name] = { error: String(err) }
  }
}
;(async () => {
  await attempt('json', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ enabled: true, adminAccess: true }) })
  await attempt('simple', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ enabled: true }) })
  await attempt('read', { method: 'GET' })
  document.getElementById('form').submit()
  window.attackResults = results
})()
</script></body></html>`
}

t.test('a page on another origin cannot switch assistance on with the console’s cookie', async (t) => {
  const a = await startTestAssist(t)
  const evil: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(attackerPage(a.base))
  })
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => evil.close(() => resolve())))
  const evilBase = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`
  t.not(evilBase, a.base)

  const browser = await launchChromium(t)
  const context = await browser.newContext()
  const page = await context.newPage()
  await page.goto(`${a.base}/`)
  await logIn(page, a)
  t.ok((await context.cookies(a.base)).some((c) => c.name === SESSION_COOKIE), 'the browser holds a console session')

  // what the service answered to each attempt, as the browser saw it
  const answers = new Map<string, number>()
  page.on('response', (res) => {
    const url = new URL(res.url())
    const attempt = url.searchParams.get('attempt')
    if (url.origin === a.base && attempt !== null) answers.set(`${res.request().method()} ${attempt}`, res.status())
  })
  const formAnswered = page.waitForResponse((res) => res.url().includes('attempt=form'), { timeout: WAIT_MS })
  const framed = page.waitForResponse((res) => res.url() === `${a.base}/` && res.frame() !== page.mainFrame(), { timeout: WAIT_MS })
  await page.goto(`${evilBase}/`)
  type Outcome = { status?: number; type?: string; body?: string | null; error?: string }
  const results = (await (await page.waitForFunction(() => (globalThis as unknown as InPage).attackResults, undefined, { timeout: WAIT_MS })).jsonValue()) as Record<string, Outcome>
  await formAnswered
  await framed

  t.match(results.json, { error: /TypeError|Failed to fetch/ }, 'a JSON POST is stopped by the browser (the service allows no CORS preflight)')
  t.notOk(answers.has('POST json'), 'and never reaches the service', { answers: Object.fromEntries(answers) })
  // 403 (not 401) also shows that the cookie went along: a same-site page on another port gets it
  t.equal(answers.get('POST simple'), 403, 'a no-cors POST arrives with the cookie and is refused for its Origin')
  t.equal(answers.get('POST form'), 403, 'a cross-origin form POST is refused for its Origin')
  t.match(results.read, { error: /TypeError|Failed to fetch/ }, 'the status cannot be read from another origin')
  t.notOk(results.read?.body, 'nothing of the status reaches the other page')

  const frame = page.frame({ name: 'framed' })
  t.ok(frame !== null, 'the other page tried to frame the console')
  await frame!.waitForLoadState('load', { timeout: WAIT_MS })
  t.equal(await frame!.locator('#toggle').count(), 0, 'the console cannot be framed by another origin (clickjacking)', { url: frame!.url() })

  const status = await a.api('GET', '/api/assistance')
  t.equal(status.json.enabled, false, 'assistance stayed off')
  const audit = (await a.api('GET', '/api/audit')).json as unknown as { event: string }[]
  t.notOk(audit.some((r) => r.event === 'enable'), 'nothing was enabled')

  // the control: the very same request from the console's own page does switch on
  await page.goto(`${a.base}/`)
  await waitForState(page, 'off')
  const own = await page.evaluate(async () => {
    const res = await fetch('/api/assistance?attempt=own', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ enabled: true }) })
    return res.status
  })
  t.equal(own, 200, "the same request from the console's own origin is accepted")
  t.equal((await a.api('GET', '/api/assistance')).json.enabled, true, 'so only the origin made the difference')
  await a.api('POST', '/api/assistance', { enabled: false })
})
