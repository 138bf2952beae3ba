// The assistance service's embedded supernode takes WebSocket connections on a listener of its
// own (never the console's): its URL goes into join tokens, and "Test connection" checks it and
// says so in a sentence. The console's listener refuses the WebSocket path.
import t from 'tap'
import WebSocket from 'ws'
import { decodeJoinTokenV2 } from '../../src/assist/join-token.js'
import { startTestAssist } from '../fixtures/assist.js'

t.test('the embedded supernode listens for WebSocket apart from the console; tokens and the connection test carry its URL', async (t) => {
  const a = await startTestAssist(t, { embeddedSupernodeWs: { port: 0, tls: null } })
  const tcpPort = a.server.supernode!.tcpPort
  t.ok(tcpPort !== null, 'the embedded supernode has a WebSocket listener')
  const url = `ws://127.0.0.1:${tcpPort}/overlan`
  t.same(a.server.fallbacks, [url])
  t.not(String(tcpPort), new URL(a.base).port, 'on a port of its own, not the console')

  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 60 })
  t.same(decodeJoinTokenV2(on.json.token as string).fallbacks, [url], 'the join token carries the fallback URL')

  const test = await a.api('POST', '/api/connection-test')
  t.match(test.json, { canConnect: true })
  const sentences = test.json.sentences as string[]
  t.match(sentences[1], new RegExp(`^Plain HTTP on port ${tcpPort} works too \\((under 1|\\d+) ms\\): overlan can use it if UDP stops working\\.$`), 'the test reached the supernode through its WebSocket')

  // the console's listener is no WebSocket endpoint: the upgrade is refused there
  const refused = await new Promise<string>((resolve) => {
    const ws = new WebSocket(`${a.base.replace('http:', 'ws:')}/overlan`)
    ws.once('open', () => {
      ws.terminate()
      resolve('opened')
    })
    ws.once('error', (err) => resolve(err.message))
  })
  t.match(refused, /Unexpected server response: 4\d\d/, `the console refuses the upgrade (${refused})`)
})

t.test('without a WebSocket listener: no fallback in tokens, the test says none was given', async (t) => {
  const a = await startTestAssist(t)
  t.equal(a.server.supernode!.tcpPort, null)
  t.same(a.server.fallbacks, [])
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 60 })
  t.same(decodeJoinTokenV2(on.json.token as string).fallbacks, [])
  const test = await a.api('POST', '/api/connection-test')
  t.match((test.json.sentences as string[])[1], /^No HTTPS fallback was given/)
})
