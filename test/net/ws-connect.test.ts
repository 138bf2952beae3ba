// The fallback's WebSocket client (src/net/ws-connect.ts) against a local wss server whose
// certificate a private CA made by the test signed: through Debian's tinyproxy with Basic
// Proxy-Authorization, directly, and every way it can fail, each failure one line naming the URL
// and the stage (TCP, proxy with its status, TLS verification, the HTTP status of the upgrade, timeout).
import { createServer as createHttpsServer } from 'node:https'
import { createServer as createTcpServer, type Socket } from 'node:net'
import t from 'tap'
import { WebSocketServer } from 'ws'
import { parseFallbackUrl } from '../../src/net/address.js'
import { connectWebSocket, parseProxyUrl, proxyFor, WsConnectError, type WsConnection } from '../../src/net/ws-connect.js'
import { freeTcpPort } from '../fixtures/free-port.js'
import { makePrivateCa } from '../fixtures/private-ca.js'
import { startTinyproxy, tinyproxyInstalled } from '../fixtures/tinyproxy.js'

const ca = makePrivateCa(t, ['localhost', '127.0.0.1'])

/** A wss echo server on /overlan, as the supernode's endpoint answers: binary messages only. */
async function echoServer(pair: { cert: string; key: string } = ca): Promise<{ port: number; upgrades: () => number }> {
  const https = createHttpsServer({ cert: pair.cert, key: pair.key }, (_req, res) => res.writeHead(404).end())
  const wss = new WebSocketServer({ server: https, path: '/overlan' })
  let upgrades = 0
  wss.on('connection', (ws) => {
    upgrades++
    ws.on('message', (data: Buffer) => ws.send(data))
  })
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const c of wss.clients) c.terminate()
    wss.close()
    https.closeAllConnections()
    return new Promise<void>((resolve) => https.close(() => resolve()))
  })
  return { port: (https.address() as { port: number }).port, upgrades: () => upgrades }
}

async function roundTrip(conn: WsConnection, bytes: Buffer): Promise<Buffer> {
  const back = new Promise<Buffer>((resolve) => conn.socket.once('message', (data: Buffer) => resolve(data)))
  conn.socket.send(bytes)
  return back
}

async function failure(promise: Promise<unknown>): Promise<WsConnectError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  if (!(err instanceof WsConnectError)) throw new Error(`expected a WsConnectError, got ${String(err)}`)
  return err
}

t.test('wss through an HTTP CONNECT proxy with Basic auth, trusting only the private CA', { skip: tinyproxyInstalled() ? false : 'tinyproxy is not installed (apt-get install tinyproxy)' }, async (t) => {
  const server = await echoServer()
  const proxy = await startTinyproxy(t, { host: '127.0.0.1', port: await freeTcpPort(), auth: { user: 'tech', password: 's3cret' } })
  const url = parseFallbackUrl(`wss://localhost:${server.port}/overlan`, false)
  const withAuth = parseProxyUrl(`http://tech:s3cret@127.0.0.1:${proxy.port}`)

  const conn = await connectWebSocket({ url, ca: ca.caPem, proxy: withAuth })
  t.teardown(() => conn.socket.terminate())
  t.equal(conn.secure, true)
  t.equal(conn.remote, `127.0.0.1:${proxy.port}`, 'the TCP connection went to the proxy')
  t.equal(conn.viaProxy, `http://127.0.0.1:${proxy.port}`, 'the proxy is reported without its credentials')
  const datagram = Buffer.from([1, 1, 0, 0, 9, 8, 7])
  t.same(await roundTrip(conn, datagram), datagram, 'a binary message goes there and back whole')
  t.match(proxy.log(), new RegExp(`CONNECT localhost:${server.port}`), 'the proxy made the tunnel')

  const noAuth = await failure(connectWebSocket({ url, ca: ca.caPem, proxy: parseProxyUrl(`http://127.0.0.1:${proxy.port}`) }))
  t.equal(noAuth.stage, 'proxy')
  t.match(noAuth.message, /^wss:\/\/localhost:\d+\/overlan: proxy http:\/\/127\.0\.0\.1:\d+: refused CONNECT to localhost:\d+: 407/, 'a proxy that wants credentials: its status, in one line')
  t.notMatch(noAuth.message, /\n/)

  const noCa = await failure(connectWebSocket({ url, proxy: withAuth }))
  t.equal(noCa.stage, 'tls', 'without the private CA the system CAs do not vouch for the server')
  t.match(noCa.message, /TLS with localhost:\d+ failed: .*(certificate|issuer)/i)
  t.equal(server.upgrades(), 1, 'only the good connection reached the WebSocket server')
})

t.test('wss directly: the private CA verifies the name; a wrong path is the HTTP status of the upgrade', async (t) => {
  const server = await echoServer()
  const conn = await connectWebSocket({ url: parseFallbackUrl(`wss://127.0.0.1:${server.port}/overlan`, false), ca: ca.caPem })
  t.teardown(() => conn.socket.terminate())
  t.equal(conn.viaProxy, null)
  t.same(await roundTrip(conn, Buffer.from('x')), Buffer.from('x'))

  const wrongPath = await failure(connectWebSocket({ url: new URL(`wss://127.0.0.1:${server.port}/other`), ca: ca.caPem }))
  t.equal(wrongPath.stage, 'upgrade')
  t.match(wrongPath.message, /HTTP 400/, 'the refused upgrade says its status')

  const other = makePrivateCa(t, ['other.example'])
  const otherServer = await echoServer(other)
  const wrongName = await failure(connectWebSocket({ url: parseFallbackUrl(`wss://127.0.0.1:${otherServer.port}/overlan`, false), ca: other.caPem }))
  t.equal(wrongName.stage, 'tls', 'a certificate the CA signed for another name is refused')
  t.match(wrongName.message, /does not match|altnames/i)
})

t.test('TCP refused and a server that never answers: named stages, bounded time', async (t) => {
  const closed = await freeTcpPort()
  const refused = await failure(connectWebSocket({ url: parseFallbackUrl(`wss://127.0.0.1:${closed}/overlan`, false) }))
  t.equal(refused.stage, 'tcp')
  t.match(refused.message, `wss://127.0.0.1:${closed}/overlan: TCP connection to 127.0.0.1:${closed} failed (ECONNREFUSED)`)

  const held: Socket[] = []
  const silent = createTcpServer((s) => held.push(s))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of held) s.destroy()
    silent.close()
  })
  const port = (silent.address() as { port: number }).port
  const timedOut = await failure(connectWebSocket({ url: parseFallbackUrl(`wss://127.0.0.1:${port}/overlan`, false), timeoutMs: 300 }))
  t.equal(timedOut.stage, 'timeout')
  t.match(timedOut.message, /no answer within 0\.3 s \(while at tls\)/)
})

t.test('the proxy comes from the environment it is given, by curl\'s rules', (t) => {
  const wss = new URL('wss://sn.example.com/overlan')
  const ws = new URL('ws://sn.example.com:8080/overlan')
  t.equal(proxyFor(wss, {}), null)
  t.same(proxyFor(wss, { HTTPS_PROXY: 'http://u:p%40ss@proxy.lan:3128' }), { host: 'proxy.lan', port: 3128, auth: 'u:p@ss', label: 'http://proxy.lan:3128' })
  t.equal(proxyFor(wss, { https_proxy: 'proxy.lan:8080' })?.port, 8080, 'a bare host:port is an http:// proxy')
  t.equal(proxyFor(wss, { http_proxy: 'http://p:1' }), null, 'wss:// does not use http_proxy')
  t.equal(proxyFor(ws, { http_proxy: 'http://p:1' })?.host, 'p', 'ws:// uses http_proxy')
  for (const list of ['*', 'example.com', '.example.com', 'sn.example.com:443', 'other, sn.example.com']) {
    t.equal(proxyFor(wss, { HTTPS_PROXY: 'http://p:1', NO_PROXY: list }), null, `NO_PROXY=${list}`)
  }
  for (const list of ['ample.com', 'sn.example.com:8443', 'other']) {
    t.not(proxyFor(wss, { HTTPS_PROXY: 'http://p:1', no_proxy: list }), null, `no_proxy=${list} does not cover it`)
  }
  t.throws(() => proxyFor(wss, { HTTPS_PROXY: 'https://p:1' }), /only http:\/\/ proxies are supported/)
  t.end()
})

t.test('a connect that times out at any stage leaves no TCP connection open (redials do not pile up)', async (t) => {
  const open = new Set<Socket>()
  // a plain TCP server that answers nothing: it counts the connections the client leaves open
  // (it reads, so that it sees the client's FIN)
  const front = createTcpServer((s) => {
    s.resume()
    open.add(s)
    s.on('close', () => open.delete(s))
    s.on('error', () => {})
  })
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of open) s.destroy()
    front.close()
  })
  const frontPort = (front.address() as { port: number }).port
  // 1 ms: the timer fires while the TCP connect or TLS is still under way, whichever the scheduler reaches
  for (let i = 0; i < 20; i++) {
    const err = await failure(connectWebSocket({ url: parseFallbackUrl(`wss://127.0.0.1:${frontPort}/overlan`, false), timeoutMs: 1 }))
    t.equal(err.stage, 'timeout', `attempt ${i + 1} timed out`)
  }
  // the server sees each abandoned client close; wait for that (bounded), never for a fixed time
  const deadline = Date.now() + 10_000
  while (open.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(open.size, 0, 'every connection the timed-out attempts opened was closed by the client')
})
