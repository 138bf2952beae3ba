// The console's files as the service serves them: every ES module the page imports is there, as
// JavaScript under the strict CSP, and /server-constants.js carries the service's own values, so
// the page holds no copies of them.
import { readdir, readFile } from 'node:fs/promises'
import t from 'tap'
import { LOGIN_LOCK_MS } from '../../src/assist/api.js'
import { AUDIT_EVENT_LABELS, CONSOLE_CONSTANTS_PATH } from '../../src/assist/console-constants.js'
import { MAX_DURATION_SECONDS, PRESENCE_CHECK_MS } from '../../src/assist/service.js'
import { startTestAssist, WEB_DIR } from '../fixtures/assist.js'

/** The relative imports of a module's text: `import … from './x.js'` (the page has no other kind). */
function importsOf(text: string): string[] {
  return [...text.matchAll(/^import [^'"]*from '(\.\/[^']+)'/gm)].map((m) => m[1]!.slice(1))
}

t.test('every module the page imports is served as JavaScript, without a session, under the CSP', async (t) => {
  const a = await startTestAssist(t)
  const html = await (await fetch(`${a.base}/`)).text()
  const entry = /<script type="module" src="([^"]+)"><\/script>/.exec(html)?.[1]
  t.equal(entry, '/main.js', 'the page starts at one module')
  const seen = new Set<string>()
  const queue = [entry!]
  while (queue.length > 0) {
    const path = queue.shift()!
    if (seen.has(path)) continue
    seen.add(path)
    const res = await fetch(`${a.base}${path}`)
    t.equal(res.status, 200, `${path} is served`)
    t.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8', `${path} as JavaScript (a module of another type does not run)`)
    t.match(res.headers.get('content-security-policy'), /script-src 'self'(;|$)/, `${path} under the same CSP`)
    queue.push(...importsOf(await res.text()))
  }
  t.ok(seen.has(CONSOLE_CONSTANTS_PATH), 'the page imports the service’s constants')
  const files = (await readdir(WEB_DIR)).filter((name) => name.endsWith('.js')).map((name) => `/${name}`)
  t.same([...seen].filter((path) => path !== CONSOLE_CONSTANTS_PATH).sort(), files.sort(), 'and every module of web/ is in use')
  t.notOk(files.includes(CONSOLE_CONSTANTS_PATH), 'no file of web/ takes the generated module’s name')
})

t.test('/server-constants.js holds the service’s own values', async (t) => {
  const a = await startTestAssist(t)
  const text = await (await fetch(`${a.base}${CONSOLE_CONSTANTS_PATH}`)).text()
  const constants = (await import(`data:text/javascript,${encodeURIComponent(text)}`)) as Record<string, unknown>
  t.same(
    { ...constants },
    { maxDurationSeconds: MAX_DURATION_SECONDS, presenceCheckMs: PRESENCE_CHECK_MS, loginLockSeconds: LOGIN_LOCK_MS / 1000, auditEventLabels: AUDIT_EVENT_LABELS },
    'the longest session, the presence check, the login lock and the audit events’ labels',
  )
  t.ok(Object.isFrozen(constants.auditEventLabels), 'frozen: the page cannot change them')
  // the page keeps no copy: none of these values is written in web/
  for (const name of (await readdir(WEB_DIR)).filter((file) => file.endsWith('.js'))) {
    const source = await readFile(`${WEB_DIR}${name}`, 'utf8')
    t.notOk(/86_?400|'Switched on'|'Technician joined'/.test(source), `web/${name} holds no copy of them`)
  }
})
