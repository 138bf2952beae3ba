// Anyone who can send HTTP to 127.0.0.1 used to lock the owner out of the off switch: failed logins
// were counted per address, and every local client is 127.0.0.1. Now failures are slowed down and
// locked per presented token: after any number of failures, from a foreign Host or the right one,
// the valid token reads the status and switches off at once. Every checked failure is audited.
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { FAILURE_DELAY_MS, LOGIN_FAILURES_ALLOWED, MAX_PENDING_FAILURES } from '../../src/assist/login-guard.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { startTestAssist } from '../fixtures/assist.js'
import { rawRequest, type RawAnswer } from '../fixtures/raw-http.js'

const FOREIGN_FAILURES = 50
const CONCURRENT_FAILURES = 60

/** Moves the clock a failure delay at a time until every answer is in (bounded). */
async function answered(clock: ManualClock, requests: Promise<RawAnswer>[]): Promise<RawAnswer[]> {
  let done = false
  const all = Promise.all(requests).finally(() => (done = true))
  for (let i = 0; i < 500 && !done; i++) {
    await clock.advance(FAILURE_DELAY_MS, FAILURE_DELAY_MS)
    await delay(5)
  }
  return all
}

function count(answers: RawAnswer[]): Record<number, number> {
  const counts: Record<number, number> = {}
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1
  return counts
}

t.test('after failed logins from a foreign Host and from the right one, the valid token reads the status and switches off at once', async (t) => {
  const clock = new ManualClock(Date.now())
  const a = await startTestAssist(t, { clock })
  const port = Number(new URL(a.base).port)
  const host = `127.0.0.1:${port}`
  const json = { 'content-type': 'application/json' }
  t.equal((await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 3600 })).status, 200, 'assistance is on')

  // a rebinding page's guesses: refused by the Host check before any login is tried
  const foreign: Promise<RawAnswer>[] = []
  for (let i = 0; i < FOREIGN_FAILURES; i++) {
    foreign.push(i % 2 === 0 ? rawRequest(port, 'POST', '/api/login', { host: 'evil.example:8765', ...json }, JSON.stringify({ token: `guess-${i}` })) : rawRequest(port, 'GET', '/api/assistance', { host: 'evil.example:8765', authorization: `Bearer guess-${i}` }))
  }
  t.same(count(await Promise.all(foreign)), { 421: FOREIGN_FAILURES }, `${FOREIGN_FAILURES} guesses with Host evil.example:8765: all refused (421)`)

  // a local process's guesses with the right Host, all at once, on every route that takes a token;
  // the clock stands still, so the first ones are still waiting for their slowed-down 401
  const local: Promise<RawAnswer>[] = []
  for (let i = 0; i < CONCURRENT_FAILURES; i++) {
    const token = `local-guess-${i}`
    if (i % 3 === 0) local.push(rawRequest(port, 'POST', '/api/login', { host, ...json }, JSON.stringify({ token })))
    else if (i % 3 === 1) local.push(rawRequest(port, 'GET', '/api/assistance', { host, authorization: `Bearer ${token}` }))
    else local.push(rawRequest(port, 'POST', '/api/assistance', { host, authorization: `Bearer ${token}`, ...json }, '{"enabled":false}'))
  }
  const settled: RawAnswer[] = []
  local.forEach((p) => void p.then((r) => settled.push(r)))
  for (let i = 0; i < 200 && settled.length < CONCURRENT_FAILURES - MAX_PENDING_FAILURES; i++) await delay(10)
  t.equal(settled.length, CONCURRENT_FAILURES - MAX_PENDING_FAILURES, `${CONCURRENT_FAILURES} at once: all but ${MAX_PENDING_FAILURES} answered at once`)
  t.ok(settled.every((r) => r.status === 429 && Number(r.headers['retry-after']) > 0), 'those with 429 and Retry-After (too many failures at once)')

  // while the others wait for their 401: the owner's GUI, with the valid token
  const started = performance.now()
  const status = await rawRequest(port, 'GET', '/api/assistance', { host, authorization: `Bearer ${a.token}` })
  const statusMs = performance.now() - started
  t.equal(status.status, 200, 'the status is read')
  t.equal(status.json.enabled, true)
  const before = performance.now()
  const off = await rawRequest(port, 'POST', '/api/assistance', { host, authorization: `Bearer ${a.token}`, ...json }, '{"enabled":false}')
  const offMs = performance.now() - before
  t.same([off.status, off.json], [200, { enabled: false }], 'and assistance is switched off')
  const login = await rawRequest(port, 'POST', '/api/login', { host, ...json }, JSON.stringify({ token: a.token }))
  t.equal(login.status, 200, 'the console can log in with it too')
  t.comment(`after ${FOREIGN_FAILURES + CONCURRENT_FAILURES} failed logins (${FOREIGN_FAILURES} foreign Host, ${CONCURRENT_FAILURES} right Host, ${MAX_PENDING_FAILURES} still waiting): status in ${statusMs.toFixed(1)} ms, switch-off in ${offMs.toFixed(1)} ms, clock not moved`)
  t.ok(statusMs < 1000 && offMs < 1000, 'at once: no failure delay, no lock (the clock did not move)')

  const late = await answered(clock, local)
  t.same(count(late), { 401: MAX_PENDING_FAILURES, 429: CONCURRENT_FAILURES - MAX_PENDING_FAILURES }, `the ${MAX_PENDING_FAILURES} that waited get 401 after ${FAILURE_DELAY_MS} ms`)

  // one stale token retried in a loop: locked by itself after five
  const statuses: number[] = []
  for (let i = 0; i < LOGIN_FAILURES_ALLOWED + 2; i++) {
    const [res] = await answered(clock, [rawRequest(port, 'GET', '/api/assistance', { host, authorization: 'Bearer stale-token' })])
    statuses.push(res!.status)
  }
  t.same(statuses, [401, 401, 401, 401, 401, 429, 429], 'the same wrong token: 401 five times, then 429')
  t.equal((await rawRequest(port, 'GET', '/api/assistance', { host, authorization: `Bearer ${a.token}` })).status, 200, 'the valid token still is answered at once')

  type Record = { event: string; details: { client?: string; why?: string; failures?: number; refusedWhileBusy?: number } }
  const log = (await a.api('GET', '/api/audit')).json as unknown as Record[]
  const failed = log.filter((r) => r.event === 'login-failed')
  t.equal(failed.length, MAX_PENDING_FAILURES + LOGIN_FAILURES_ALLOWED, `every checked failure is audited (${failed.length}); refused ones are counted`)
  t.match(failed[0], { details: { client: '127.0.0.1', why: /bad (bearer )?token/, failures: 1 } })
  t.equal(failed.reduce((n, r) => n + (r.details.refusedWhileBusy ?? 0), 0), CONCURRENT_FAILURES - MAX_PENDING_FAILURES, 'the failures answered 429 while busy are counted in the next record')
  t.same(failed.slice(-LOGIN_FAILURES_ALLOWED).map((r) => r.details.failures), [1, 2, 3, 4, 5], "the stale token's failures, counted per token")
  t.match(log.filter((r) => r.event === 'disable'), [{}], 'the switch-off is in the log')
})
