// The assistance API exactly as a monitoring GUI uses it: every route, the shapes, and every
// refusal with its status and a JSON {error} that names the field.
import t from 'tap'
import { MAX_BODY_BYTES, MAX_JSON_DEPTH } from '../../src/assist/api.js'
import { decodeJoinTokenV2 } from '../../src/assist/join-token.js'
import { communityIdOf } from '../../src/crypto/keys.js'
import { startTestAssist } from '../fixtures/assist.js'

t.test('without a token: 401 everywhere but /healthz', async (t) => {
  const a = await startTestAssist(t)
  t.equal((await fetch(`${a.base}/healthz`)).status, 200)
  for (const [method, path] of [['GET', '/api/assistance'], ['POST', '/api/assistance'], ['POST', '/api/connection-test'], ['GET', '/api/audit'], ['GET', '/api/technicians'], ['POST', '/api/technicians/0123456789ab'], ['DELETE', '/api/technicians/0123456789ab']]) {
    const res = await fetch(a.base + path, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{"enabled":true}' : undefined })
    t.equal(res.status, 401, `${method} ${path}`)
    t.match(await res.json(), { error: String })
  }
  const bad = await a.api('GET', '/api/assistance', undefined, { authorization: 'Bearer wrong' })
  t.equal(bad.status, 401)
})

t.test('GET /api/assistance when off, enable, the token, disable', async (t) => {
  const a = await startTestAssist(t)
  const off = await a.api('GET', '/api/assistance')
  t.equal(off.status, 200)
  t.match(off.json, { enabled: false, since: null, expiresAt: null, remainingSeconds: 0, adminAccess: false, overlayIp: null, consent: null, maxTechnicians: null, idleMinutes: 0, idleRemainingSeconds: null, allow: null, deviceFingerprint: /^[a-z2-7]{32}$/, deviceName: 'device', technicians: [], supernodes: [], error: null })
  t.equal(Object.keys(off.json).length, 16, 'no other field')

  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 3600, adminAccess: true })
  t.equal(on.status, 200)
  t.match(on.json, { enabled: true, token: /^ovl2\./, expiresAt: String, overlayIp: '10.99.0.1/24', deviceFingerprint: off.json.deviceFingerprint, adminPassword: /^[2-9a-zA-Z]{16}$/ })
  const token = decodeJoinTokenV2(on.json.token as string)
  t.match(token, { supernodes: [{ host: '127.0.0.1' }], deviceIp: { address: '10.99.0.1', prefix: 24 }, deviceName: 'device', deviceHostName: 'device.overlan' })
  t.equal(token.enrollmentSecret.length, 32, 'an enrollment secret of 256 bits')
  t.equal(token.expiresAt, Date.parse(on.json.expiresAt as string))
  t.ok(Math.abs(Date.parse(on.json.expiresAt as string) - Date.now() - 3600_000) < 5000)

  const status = await a.api('GET', '/api/assistance')
  t.match(status.json, { enabled: true, adminAccess: true, overlayIp: '10.99.0.1/24', consent: 'auto', maxTechnicians: 3, idleMinutes: 0, allow: null, technicians: [], supernodes: [{ address: /^127\.0\.0\.1:\d+$/ }] })
  t.ok((status.json.remainingSeconds as number) > 3590 && (status.json.remainingSeconds as number) <= 3600)
  t.notMatch(JSON.stringify(status.json), token.enrollmentSecret.toString('base64'), 'the status never shows the enrollment secret')

  const again = await a.api('POST', '/api/assistance', { enabled: true })
  t.equal(again.json.token, on.json.token, 'enabling again while on returns the same session')
  t.notOk('adminPassword' in again.json, 'the admin password is shown once only')

  t.same((await a.api('POST', '/api/assistance', { enabled: false })).json, { enabled: false })
  t.match((await a.api('GET', '/api/assistance')).json, { enabled: false, technicians: [] })
  const second = decodeJoinTokenV2((await a.api('POST', '/api/assistance', { enabled: true })).json.token as string)
  t.notOk(second.enrollmentSecret.equals(token.enrollmentSecret), 'a new session has a new enrollment secret')
  t.notOk(communityIdOf(second.authorityKey).equals(communityIdOf(token.authorityKey)), 'and a new authority: a new community')
  t.ok(second.deviceKey.equals(token.deviceKey), "the device's identity is the same (it outlives sessions)")
})

t.test('consent, maxTechnicians, idleMinutes and allow: taken, shown, and refused with 400 naming the field', async (t) => {
  const a = await startTestAssist(t)
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600, consent: 'ask', maxTechnicians: 10, idleMinutes: 1440, allow: 'tcp/22,tcp/443,icmp' })
  t.equal(on.status, 200)
  t.match((await a.api('GET', '/api/assistance')).json, { consent: 'ask', maxTechnicians: 10, idleMinutes: 1440, idleRemainingSeconds: 86400, allow: 'tcp/22,tcp/443,icmp' })
  t.same(a.configs[0]!.allow, { tcp: [{ from: 22, to: 22 }, { from: 443, to: 443 }], udp: [], icmp: true }, "the device edge runs with the session's allow rules")
  await a.api('POST', '/api/assistance', { enabled: false })
  await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600 })
  t.equal(a.configs[1]!.allow, undefined, "without allow: the service's own rules (everything addressed to the device, unless --allow)")
  await a.api('POST', '/api/assistance', { enabled: false })
  const cases: [unknown, string][] = [
    [{ enabled: true, consent: 'maybe' }, 'consent'],
    [{ enabled: true, consent: true }, 'consent'],
    [{ enabled: true, maxTechnicians: 0 }, 'maxTechnicians'],
    [{ enabled: true, maxTechnicians: 11 }, 'maxTechnicians'],
    [{ enabled: true, maxTechnicians: 2.5 }, 'maxTechnicians'],
    [{ enabled: true, idleMinutes: -1 }, 'idleMinutes'],
    [{ enabled: true, idleMinutes: 1441 }, 'idleMinutes'],
    [{ enabled: true, idleMinutes: '5' }, 'idleMinutes'],
    [{ enabled: true, allow: 'tcp/0' }, 'allow'],
    [{ enabled: true, allow: 'ssh' }, 'allow'],
    [{ enabled: true, allow: '' }, 'allow'],
    [{ enabled: true, allow: ['tcp/22'] }, 'allow'],
    [{ enabled: true, allow: 'tcp/22,'.repeat(40) }, 'allow'],
    [{ enabled: false, consent: 'ask' }, 'consent'],
    [{ enabled: false, idleMinutes: 5 }, 'idleMinutes'],
  ]
  for (const [body, field] of cases) {
    const res = await a.api('POST', '/api/assistance', body)
    t.equal(res.status, 400, `${JSON.stringify(body).slice(0, 60)}: 400`)
    t.equal(res.json.field, field, `names ${field}: ${String(res.json.error)}`)
    t.equal(String(res.json.error).split('\n').length, 1, 'in one line')
  }
  t.equal((await a.api('GET', '/api/assistance')).json.enabled, false, 'none of them switched assistance on')
  t.match((await a.api('POST', '/api/assistance', { enabled: true, allow: 'tcp/80' })).json, { enabled: true }, 'a good one does')
  t.match((await a.api('GET', '/api/technicians')), { status: 200, json: [] }, 'GET /api/technicians: none yet')
})

t.test('durations and types: 400 naming the field', async (t) => {
  const a = await startTestAssist(t)
  const cases: [unknown, string][] = [
    [{ enabled: true, durationSeconds: 0 }, 'durationSeconds'],
    [{ enabled: true, durationSeconds: 86401 }, 'durationSeconds'],
    [{ enabled: true, durationSeconds: 1.5 }, 'durationSeconds'],
    [{ enabled: true, durationSeconds: '60' }, 'durationSeconds'],
    [{ enabled: 'yes' }, 'enabled'],
    [{}, 'enabled'],
    [{ enabled: true, adminAccess: 1 }, 'adminAccess'],
    [{ enabled: false, durationSeconds: 60 }, 'durationSeconds'],
    [{ enabled: true, color: 'red' }, 'color'],
  ]
  for (const [body, field] of cases) {
    const res = await a.api('POST', '/api/assistance', body)
    t.equal(res.status, 400, JSON.stringify(body))
    t.match(res.json, { error: new RegExp(field), field }, `names ${field}`)
  }
  for (const body of ['[1,2]', 'null', '{"enabled": tru', '"enabled"']) {
    const res = await a.api('POST', '/api/assistance', body)
    t.equal(res.status, 400, body)
    t.match(res.json, { error: String })
  }
  t.equal((await a.api('GET', '/api/assistance')).json.enabled, false, 'nothing was enabled by any of them')
  for (const seconds of [1, 86400]) {
    const ok = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: seconds })
    t.equal(ok.status, 200, `${seconds} s is accepted`)
    await a.api('POST', '/api/assistance', { enabled: false })
  }
})

t.test('bodies: 413 when huge, 415 when not JSON', async (t) => {
  const a = await startTestAssist(t)
  const huge = JSON.stringify({ enabled: true, pad: 'x'.repeat(100_000) })
  t.equal((await a.api('POST', '/api/assistance', huge)).status, 413)
  const nested = '{"enabled":' + '['.repeat(5000) + ']'.repeat(5000) + '}'
  t.equal((await a.api('POST', '/api/assistance', nested)).status, 413, 'deep nesting is refused by size first')
  const form = await fetch(`${a.base}/api/assistance`, { method: 'POST', headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'enabled=true' })
  t.equal(form.status, 415)
  t.match(await form.json(), { error: /JSON/ })
})

t.test('bodies nested deeper than 8 levels: 400 naming the depth, quickly, within the size limit; nothing crashes', async (t) => {
  const a = await startTestAssist(t)
  const nest = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels)
  const deepest = Math.floor((MAX_BODY_BYTES - '{"enabled":}'.length) / 2)
  const bodies: [string, string][] = [
    [`${deepest} levels of [ (${deepest * 2 + 12} bytes, under the ${MAX_BODY_BYTES}-byte limit)`, `{"enabled":${nest(deepest)}}`],
    ['4,000 unclosed [', `{"enabled":${'['.repeat(4000)}`],
    ['9 levels of objects', `{"enabled":${'{"a":'.repeat(8)}1${'}'.repeat(8)}}`],
  ]
  for (const [what, body] of bodies) {
    t.ok(Buffer.byteLength(body) <= MAX_BODY_BYTES, `${what}: within the size limit`)
    const started = performance.now()
    const res = await a.api('POST', '/api/assistance', body)
    const ms = performance.now() - started
    t.equal(res.status, 400, what)
    t.match(res.json, { error: `the body nests arrays or objects deeper than ${MAX_JSON_DEPTH} levels` }, `${what}: the error names the problem`)
    t.ok(ms < 1000, `${what}: refused in ${ms.toFixed(1)} ms`)
  }
  const login = await fetch(`${a.base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"token":${nest(2000)}}` })
  t.equal(login.status, 400, 'the login refuses it too')
  const eight = await a.api('POST', '/api/assistance', `{"enabled":${nest(7)}}`)
  t.match(eight, { status: 400, json: { field: 'enabled' } }, '8 levels pass the depth check and reach the field check')
  t.equal((await a.api('POST', '/api/assistance', '{"enabled":false,"note":"[[[[[[[[[[[[[[["}')).json.field, 'note', 'brackets inside strings are not nesting')
  t.equal((await fetch(`${a.base}/healthz`)).status, 200, 'the service still answers')
  t.equal((await a.api('GET', '/api/assistance')).json.enabled, false, 'and nothing was enabled')
})

t.test('console login: HttpOnly SameSite=Strict cookie; changes need the console’s own Origin', async (t) => {
  const a = await startTestAssist(t)
  const login = await fetch(`${a.base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: a.token }) })
  t.equal(login.status, 200)
  const setCookie = login.headers.get('set-cookie') ?? ''
  t.match(setCookie, /overlan_session=/)
  t.match(setCookie, /httponly/i)
  t.match(setCookie, /samesite=strict/i)
  const cookie = setCookie.split(';')[0]!
  t.equal((await fetch(`${a.base}/api/assistance`, { headers: { cookie } })).status, 200, 'the cookie authenticates reads')
  const post = (origin?: string): Promise<Response> =>
    fetch(`${a.base}/api/assistance`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...(origin ? { origin } : {}) }, body: '{"enabled":true,"durationSeconds":60}' })
  t.equal((await post()).status, 403, 'no Origin: refused')
  t.equal((await post('http://evil.example')).status, 403, 'another Origin: refused')
  t.equal((await a.api('GET', '/api/assistance')).json.enabled, false)
  t.equal((await post(a.base)).status, 200, 'its own Origin: accepted')
  const wrong = await fetch(`${a.base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'nope' }) })
  t.equal(wrong.status, 401)
})

t.test('a failed login is audited and answered 401; the valid token right after it is answered 200', async (t) => {
  const a = await startTestAssist(t)
  const wrong = await fetch(`${a.base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'guess' }) })
  t.equal(wrong.status, 401)
  t.match(await wrong.json(), { error: 'wrong token' })
  const right = await fetch(`${a.base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: a.token }) })
  t.equal(right.status, 200)
  const audit = (await a.api('GET', '/api/audit')).json as unknown as { event: string; details: unknown }[]
  t.match(audit.filter((r) => r.event === 'login-failed'), [{ details: { client: '127.0.0.1', why: 'bad token at login', failures: 1 } }])
  // the lock per presented token and the slow-down: login-lockout-spares-valid-token.test.ts
})

t.test('connection test, audit, static files, headers', async (t) => {
  const a = await startTestAssist(t)
  const test = await a.api('POST', '/api/connection-test')
  t.equal(test.status, 200)
  t.match(test.json, { supernodes: [{ address: /^127\.0\.0\.1:\d+$/, reachable: true, rttMs: Number, publicEndpoint: /^127\.0\.0\.1:\d+$/ }] })
  t.match(test.json, { canConnect: true, sentences: [/^UDP to the supernode 127\.0\.0\.1 works \(/, /^No HTTPS fallback was given/] }, "and netcheck's sentences")
  await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 60 })
  await a.api('POST', '/api/assistance', { enabled: false })
  const audit = await a.api('GET', '/api/audit')
  const events = (audit.json as unknown as { event: string; seq: number }[]).map((r) => r.event)
  t.same(events.slice(-3), ['connection-test', 'enable', 'disable'], 'newest last')
  const page = await fetch(`${a.base}/`)
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /text\/html/)
  t.match(page.headers.get('content-security-policy'), /default-src 'none'/)
  for (const path of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd', '/web/index.html', '//etc/passwd', '/.%2e/.%2e/etc/passwd']) {
    const res = await fetch(`${a.base}${path}`)
    const body = await res.text()
    t.not(res.status, 200, `${path} is not served`)
    t.notMatch(body, /root:/)
  }
})
