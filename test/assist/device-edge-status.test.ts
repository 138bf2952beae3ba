// The assistance service's device edge answers on its own management address while a session is
// on (what `overlan status` reads, with the session's address and expiry) and stops answering when
// the session ends; a port already taken makes switching on fail with one line naming it.
import { createServer } from 'node:net'
import t from 'tap'
import { fetchStatus, findEdgeStatus } from '../../src/cli/status.js'
import { startTestAssist } from '../fixtures/assist.js'
import { freeTcpPort } from '../fixtures/free-port.js'

t.test("the device edge's /status is served during the session and gone after it", async (t) => {
  const edgeMgmt = { host: '127.0.0.1', port: await freeTcpPort() }
  const a = await startTestAssist(t, { edgeMgmt })
  t.match(await fetchStatus(edgeMgmt), { kind: 'nothing', reason: 'connection refused' }, 'no listener before assistance is on')

  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600 })
  t.equal(on.status, 200)
  const found = await findEdgeStatus([{ address: edgeMgmt, what: 'the device edge' }])
  t.match(found.status, { name: 'device', ip: '10.99.0.1/24', tap: a.taps[0]!.name, expiresAt: on.json.expiresAt as string })
  t.match(found.status.supernodes, [{ address: /^127\.0\.0\.1:\d+$/ }], 'registering with the embedded supernode')

  await a.api('POST', '/api/assistance', { enabled: false })
  t.match(await fetchStatus(edgeMgmt), { kind: 'nothing', reason: 'connection refused' }, 'the listener closes with the session')
})

t.test('a management port already taken: switching on fails and names the port', async (t) => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())))
  const edgeMgmt = { host: '127.0.0.1', port: (taken.address() as { port: number }).port }
  const a = await startTestAssist(t, { edgeMgmt })
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600 })
  t.equal(on.status, 503)
  t.equal(on.json.error, `cannot start the device's edge: cannot listen for management on 127.0.0.1:${edgeMgmt.port}: listen EADDRINUSE: address already in use 127.0.0.1:${edgeMgmt.port}`)
  t.equal((await a.api('GET', '/api/assistance')).json.enabled, false, 'assistance stays off')
})
