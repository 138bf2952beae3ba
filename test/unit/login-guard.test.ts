// The failed-login bookkeeping: per presented token, never holding a token in clear, bounded in
// memory whatever is sent, and slowing failures down on the injected clock.
import t from 'tap'
import { FAILURE_DELAY_MS, LOGIN_FAILURES_ALLOWED, LOGIN_LOCK_MS, LoginGuard, MAX_PENDING_FAILURES, MAX_TRACKED_TOKENS } from '../../src/assist/login-guard.js'
import { ManualClock } from '../../src/time/manual-clock.js'

t.test('one token locked after five failures, for a minute; another token is not', async (t) => {
  const clock = new ManualClock()
  const guard = new LoginGuard(clock)
  const kinds: string[] = []
  for (let i = 0; i < LOGIN_FAILURES_ALLOWED + 1; i++) {
    const v = guard.fail('stale')
    kinds.push(v.kind)
    if (v.kind === 'failed') {
      clock.jump(FAILURE_DELAY_MS)
      await v.answer
    }
  }
  t.same(kinds, ['failed', 'failed', 'failed', 'failed', 'failed', 'locked'])
  t.equal(guard.fail('other').kind, 'failed', 'a different token is not locked')
  clock.jump(LOGIN_LOCK_MS)
  t.equal(guard.fail('stale').kind, 'failed', 'a minute later the stale token is checked again')
})

t.test('failures wait FAILURE_DELAY_MS; more than MAX_PENDING_FAILURES at once are refused at once', async (t) => {
  const clock = new ManualClock()
  const guard = new LoginGuard(clock)
  const waiting = Array.from({ length: MAX_PENDING_FAILURES }, (_, i) => guard.fail(`g${i}`))
  t.ok(waiting.every((v) => v.kind === 'failed'))
  t.equal(guard.fail('one more').kind, 'busy')
  let answered = 0
  for (const v of waiting) if (v.kind === 'failed') void v.answer.then(() => answered++)
  clock.jump(FAILURE_DELAY_MS - 1)
  await Promise.resolve()
  t.equal(answered, 0, 'not before the delay')
  clock.jump(1)
  await Promise.all(waiting.map((v) => (v.kind === 'failed' ? v.answer : Promise.resolve())))
  t.equal(answered, MAX_PENDING_FAILURES, 'all after it')
  const next = guard.fail('after')
  t.match(next, { kind: 'failed', refusedWhileBusy: 1 }, 'the refusal is reported with the next failure')
})

t.test(`memory: ${MAX_TRACKED_TOKENS} tokens at most, whatever is sent; no token kept in clear`, (t) => {
  const clock = new ManualClock()
  const guard = new LoginGuard(clock)
  for (let i = 0; i < 5 * MAX_TRACKED_TOKENS; i++) {
    guard.fail(`secret-looking-guess-${i}`)
    clock.jump(FAILURE_DELAY_MS)
  }
  t.ok(guard.tracked <= MAX_TRACKED_TOKENS, `${guard.tracked} tokens remembered after ${5 * MAX_TRACKED_TOKENS} distinct failures`)
  const entries = (guard as unknown as { entries: Map<string, unknown> }).entries
  t.notOk([...entries.keys()].some((k) => k.includes('guess')), 'keys are keyed hashes, not the tokens')
  t.end()
})
