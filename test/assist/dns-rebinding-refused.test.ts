// DNS rebinding: a web page re-points its own name at 127.0.0.1, and the browser then sends that
// name in Host. The assistance API and the management servers of edge and supernode answer only
// Host headers naming them (their address, localhost on loopback, configured names; any port),
// and refuse the rest with 421 and a JSON {error} naming the Host, before any route or login.
import t from 'tap'
import { HOST_REFUSED_STATUS } from '../../src/http/host-check.js'
import type { MgmtListen } from '../../src/mgmt/server.js'
import { startTestAssist } from '../fixtures/assist.js'
import { startEdge, startSupernode } from '../fixtures/overlay.js'
import { rawRequest } from '../fixtures/raw-http.js'

const EVIL = 'evil.example:8765'

t.test('the assistance API refuses Host: evil.example:8765 on every route, even with the valid token', async (t) => {
  const a = await startTestAssist(t)
  const port = Number(new URL(a.base).port)
  const bearer = { authorization: `Bearer ${a.token}`, 'content-type': 'application/json' }
  const routes: [string, string, string?][] = [
    ['GET', '/healthz'],
    ['GET', '/'],
    ['GET', '/api/assistance'],
    ['GET', '/api/audit'],
    ['POST', '/api/assistance', '{"enabled":true}'],
    ['POST', '/api/login', JSON.stringify({ token: a.token })],
  ]
  for (const [method, path, body] of routes) {
    const res = await rawRequest(port, method, path, { host: EVIL, ...bearer }, body)
    t.equal(res.status, HOST_REFUSED_STATUS, `${method} ${path}: refused`)
    t.match(res.json, { error: /^Host "evil\.example:8765" is not a name of this server/ }, `${method} ${path}: the error names the Host`)
    t.notOk('enabled' in res.json || 'technicians' in res.json, `${method} ${path}: nothing of the service in the answer`)
  }
  t.equal((await a.api('GET', '/api/assistance')).json.enabled, false, 'nothing was switched on')
  const events = ((await a.api('GET', '/api/audit')).json as unknown as { event: string }[]).map((r) => r.event)
  t.notOk(events.includes('login-failed'), 'refused before any login: nothing to audit')
})

t.test('the assistance API answers its own names, with any port or none', async (t) => {
  const a = await startTestAssist(t, { hostNames: ['device.lan'] })
  const port = Number(new URL(a.base).port)
  const auth = { authorization: `Bearer ${a.token}` }
  for (const host of [`127.0.0.1:${port}`, '127.0.0.1', `localhost:${port}`, 'localhost', 'LocalHost:9000', 'device.lan', `device.lan:${port}`, 'DEVICE.LAN:443']) {
    t.equal((await rawRequest(port, 'GET', '/api/assistance', { host, ...auth })).status, 200, `Host: ${host}`)
  }
  for (const host of ['other.lan', 'device.lan.evil.example', 'localhost.', '127.0.0.2', '[::1]:8765', 'evil.example:8765@127.0.0.1', '']) {
    const res = await rawRequest(port, 'GET', '/api/assistance', { host, ...auth })
    t.ok(res.status >= 400 && res.status < 500, `Host: ${JSON.stringify(host)} refused (${res.status})`)
    t.match(res.json, { error: String }, 'with a JSON error')
  }
})

t.test("the edge's and the supernode's management servers refuse it too, and keep /status to themselves", async (t) => {
  const sn = await startSupernode(t, { mgmt: { host: '127.0.0.1', port: 0 } })
  // the names ride in the listen address, as `overlan edge --mgmt-host-name` puts them there
  const mgmt: MgmtListen = { host: '127.0.0.1', port: 0, hostNames: ['mon.lan'] }
  const e = await startEdge(t, [sn], { mgmt })
  const servers: [string, number, string][] = [
    ['edge', e.edge.mgmtAddress!.port, 'edgeId'],
    ['supernode', sn.mgmtAddress!.port, 'communities'],
  ]
  for (const [who, port, field] of servers) {
    for (const path of ['/status', '/metrics', '/nothing']) {
      const res = await rawRequest(port, 'GET', path, { host: EVIL })
      t.equal(res.status, HOST_REFUSED_STATUS, `${who} ${path}: refused`)
      t.match(res.json, { error: /^Host "evil\.example:8765" is not a name of this server.*--mgmt-host-name/ }, `${who} ${path}: the error names the Host and the option`)
      t.notOk(field in res.json, `${who} ${path}: no status in the answer`)
    }
    const own = await rawRequest(port, 'GET', '/status', { host: `127.0.0.1:${port}` })
    t.equal(own.status, 200, `${who}: its own address is answered`)
    t.ok(field in own.json, `${who}: with its status`)
    t.equal((await rawRequest(port, 'GET', '/status', { host: 'localhost' })).status, 200, `${who}: localhost (on loopback) is answered`)
  }
  t.equal((await rawRequest(e.edge.mgmtAddress!.port, 'GET', '/status', { host: 'mon.lan:5644' })).status, 200, 'edge: a configured name is answered')
  t.equal((await rawRequest(sn.mgmtAddress!.port, 'GET', '/status', { host: 'mon.lan:5645' })).status, HOST_REFUSED_STATUS, 'supernode: a name configured elsewhere is not')
})
