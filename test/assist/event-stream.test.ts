// GET /api/events (issue 13: a monitoring GUI learns of a waiting request as fast as the console
// does): server-sent events over a real HTTP connection. The current state at once; an event
// within 2 s of the session switching on, a technician asking, being admitted, the session
// switching off; none for counters alone; 401 without the token; at most MAX_EVENT_STREAMS at once
// (429 with {error}); a console session's stream ends at its logout; the Host check applies.
import { request, type IncomingMessage } from 'node:http'
import t from 'tap'
import { MAX_EVENT_STREAMS } from '../../src/assist/event-stream.js'
import { poll, startTestAssist, type TestAssist } from '../fixtures/assist.js'
import { technician } from '../fixtures/enrollment.js'

const EVENT_WITHIN_MS = 2000

interface Status {
  enabled: boolean
  technicians: { id: string; state: string; name: string }[]
}

/** One open event stream: its parsed events as they come, and whether it has ended. */
interface EventReader {
  status: number
  contentType: string
  events: { event: string; data: Status }[]
  comments: number
  ended: boolean
  /** resolves with the first event (from index `from` on) that `match` accepts, or null after `withinMs` */
  next(match: (s: Status) => boolean, from: number, withinMs?: number): Promise<Status | null>
  close(): void
}

function openEvents(a: TestAssist, headers: Record<string, string>): Promise<EventReader> {
  const url = new URL('/api/events', a.base)
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res: IncomingMessage) => {
      const reader: EventReader = {
        status: res.statusCode ?? 0,
        contentType: String(res.headers['content-type'] ?? ''),
        events: [],
        comments: 0,
        ended: false,
        async next(match, from, withinMs = EVENT_WITHIN_MS) {
          const until = Date.now() + withinMs
          for (;;) {
            const found = reader.events.slice(from).find((e) => match(e.data))
            if (found !== undefined) return found.data
            if (Date.now() > until || reader.ended) return null
            await new Promise((r) => setTimeout(r, 20))
          }
        },
        close: () => req.destroy(),
      }
      let buffered = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffered += chunk
        let cut: number
        while ((cut = buffered.indexOf('\n\n')) !== -1) {
          const block = buffered.slice(0, cut)
          buffered = buffered.slice(cut + 2)
          if (block.startsWith(':')) reader.comments++
          const event = /^event: (.+)$/m.exec(block)?.[1]
          const data = /^data: (.+)$/m.exec(block)?.[1]
          if (event !== undefined && data !== undefined) reader.events.push({ event, data: JSON.parse(data) as Status })
        }
      })
      res.on('end', () => (reader.ended = true))
      res.on('close', () => (reader.ended = true))
      res.on('error', () => (reader.ended = true))
      resolve(reader)
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('events: the state at once, then one within 2 s of each change a person acts on', async (t) => {
  const a = await startTestAssist(t)
  const events = await openEvents(a, { authorization: `Bearer ${a.token}` })
  t.teardown(() => events.close())
  t.equal(events.status, 200)
  t.match(events.contentType, /^text\/event-stream/)
  const first = await events.next(() => true, 0)
  t.match(first, { enabled: false, technicians: [] }, 'the current state at once: off')
  t.equal(events.events[0]?.event, 'assistance', 'as event "assistance", the body of GET /api/assistance')

  let seen = events.events.length
  t.equal((await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600, consent: 'ask' })).status, 200)
  t.ok(await events.next((s) => s.enabled, seen), 'switched on: an event')

  seen = events.events.length
  const alice = technician(t, a.configs[0]!, 'Alice (ACME support)')
  t.same(alice.poll(), { state: 'waiting' })
  const asking = await events.next((s) => s.technicians.some((x) => x.state === 'waiting'), seen)
  t.match(asking?.technicians, [{ name: 'Alice (ACME support)', state: 'waiting' }], 'a waiting request: an event naming it')

  seen = events.events.length
  const id = asking!.technicians[0]!.id
  t.equal((await a.api('POST', `/api/technicians/${id}`, { admit: true })).status, 200)
  t.ok(await events.next((s) => s.technicians[0]?.state === 'admitted', seen), 'admitted: an event')

  // nothing a person acts on changes now (the device's edge has registered): the countdowns and
  // counters move, no event comes
  const settled = await poll(() => a.api('GET', '/api/assistance'), (r) => (r.json.supernodes as { registered: boolean }[]).every((s) => s.registered))
  t.ok((settled.json.supernodes as unknown[]).length > 0, "the device's edge registered")
  await new Promise((r) => setTimeout(r, 500))
  seen = events.events.length
  await new Promise((r) => setTimeout(r, 1200))
  t.equal(events.events.length, seen, 'no event for the countdown or counters alone')

  t.equal((await a.api('POST', '/api/assistance', { enabled: false })).status, 200)
  t.ok(await events.next((s) => !s.enabled, seen), 'switched off: an event')
  t.notOk(events.ended, 'the stream stays open across sessions')
})

t.test('events: the token is required; the Host check applies; at most MAX_EVENT_STREAMS at once', async (t) => {
  const a = await startTestAssist(t)
  const anonymous = await openEvents(a, {})
  t.equal(anonymous.status, 401, 'no token: 401')
  const wrong = await openEvents(a, { authorization: 'Bearer not-the-token' })
  t.equal(wrong.status, 401, 'a wrong token: 401')
  const rebound = await openEvents(a, { authorization: `Bearer ${a.token}`, host: 'attacker.example:80' })
  t.ok(rebound.status >= 400 && rebound.status < 500, `another Host (DNS rebinding): ${rebound.status}`)

  const open: EventReader[] = []
  t.teardown(() => open.forEach((r) => r.close()))
  for (let i = 0; i < MAX_EVENT_STREAMS; i++) open.push(await openEvents(a, { authorization: `Bearer ${a.token}` }))
  t.same(open.map((r) => r.status), open.map(() => 200), `${MAX_EVENT_STREAMS} streams open`)
  const oneMore = await openEvents(a, { authorization: `Bearer ${a.token}` })
  t.equal(oneMore.status, 429, 'one more: 429')
  const body = await fetch(new URL('/api/events', a.base), { headers: { authorization: `Bearer ${a.token}` } })
  t.match(await body.json(), { error: /event streams are open already/ }, 'with {error}')
  open.pop()!.close()
  let again: EventReader | null = null
  for (let i = 0; i < 50 && again?.status !== 200; i++) {
    again?.close()
    await new Promise((r) => setTimeout(r, 20))
    again = await openEvents(a, { authorization: `Bearer ${a.token}` })
  }
  t.equal(again?.status, 200, 'one closed: another may open')
  again?.close()
})

t.test("events: a console session's stream ends at its logout", async (t) => {
  const a = await startTestAssist(t)
  const login = await fetch(new URL('/api/login', a.base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: a.token }) })
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!
  t.match(cookie, /^overlan_session=/)
  const events = await openEvents(a, { cookie })
  t.teardown(() => events.close())
  t.equal(events.status, 200, 'the console session opens a stream')
  t.ok(await events.next(() => true, 0), 'and gets the state')
  await fetch(new URL('/api/logout', a.base), { method: 'POST', headers: { cookie } })
  const until = Date.now() + 2000
  while (!events.ended && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  t.ok(events.ended, 'logged out: the stream ends')
})
