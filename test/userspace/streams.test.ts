// Userspace streams between two edges in one process (issue 16): a --forward carries a TCP
// connection both ways byte for byte, SOCKS5 answers each request with the right reply code, the
// device refuses ports its --allow does not list and tells its audit listeners, and a transfer
// survives a 5 % lossy underlay.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { parseAllow } from '../../src/edge/allow-filter.js'
import { systemClock } from '../../src/time/clock.js'
import { listenForward } from '../../src/edge/streams/forward.js'
import { listenSocks5 } from '../../src/edge/streams/socks5.js'
import { until } from '../fixtures/overlay.js'
import { connectRequest, echoServer, exchange, httpServer, lossyTransport, roundTrip, sha256, socksConnect, streamPair } from '../fixtures/userspace.js'

t.test('a forward carries 4 MB to an echo service and back, byte for byte, and the device audits the stream', async (t) => {
  const pair = await streamPair(t)
  pair.services.set(7, await echoServer(t))
  const forward = await listenForward(pair.technician.edge.streams, pair.deviceIp, { localPort: 0, remotePort: 7 })
  t.teardown(() => forward.server.close())
  const data = randomBytes(4 * 1024 * 1024)
  const started = Date.now()
  const back = await roundTrip(forward.address.port, data)
  const ms = Date.now() - started
  t.equal(back.length, data.length, 'every byte came back')
  t.equal(sha256(back), sha256(data), 'the same bytes, in order')
  t.comment(`4 MiB each way in ${ms} ms (${((data.length * 8) / ms / 1000).toFixed(1)} Mbit/s each way, one process, both edges)`)
  await until('the device audits the closed stream', () => pair.events.some((e) => e.event === 'closed'))
  const opened = pair.events.find((e) => e.event === 'opened')!
  const closed = pair.events.find((e) => e.event === 'closed')!
  t.equal(opened.port, 7)
  t.equal(opened.direction, 'in')
  t.equal(closed.peer.fingerprint, pair.device.edge.status().peers[0]!.fingerprint, "the technician's certificate fingerprint")
  t.equal(closed.bytesFromPeer, data.length, 'bytes from the technician')
  t.equal(closed.bytesToPeer, data.length, 'bytes to the technician')
  t.equal(closed.reason, null, 'ended cleanly (both FINs)')
  t.ok(closed.durationMs >= 0)
})

t.test('SOCKS5: CONNECT to the device by address or name works; anything else gets its RFC 1928 reply code', async (t) => {
  const pair = await streamPair(t, { allow: parseAllow('tcp/80,tcp/81') })
  const body = Buffer.from('hello from the device\n')
  pair.services.set(80, await httpServer(t, body))
  // port 81 is allowed but nothing listens there
  const socks = await listenSocks5(pair.technician.edge.streams, { host: '127.0.0.1', port: 0 }, { targets: new Map([[pair.deviceIp, pair.deviceIp], ['device.overlan', pair.deviceIp]]), clock: systemClock })
  t.teardown(() => socks.server.close())
  const port = socks.address.port

  for (const host of [pair.deviceIp, 'device.overlan', 'DEVICE.overlan']) {
    const { reply, socket } = await socksConnect(port, connectRequest(host, 80))
    t.equal(reply, 0, `${host}: succeeded`)
    const answer = await exchange(socket, Buffer.from('GET / HTTP/1.0\r\n\r\n'))
    t.ok(answer.toString().endsWith(body.toString()), `${host}: the device's HTTP answer came through`)
  }
  const cases: [string, Buffer, number][] = [
    ['another host', connectRequest('10.9.0.200', 80), 0x02],
    ['another name', connectRequest('example.com', 80), 0x02],
    ['a port --allow does not list', connectRequest(pair.deviceIp, 22), 0x02],
    ['a port nobody serves', connectRequest(pair.deviceIp, 81), 0x05],
    ['BIND', connectRequest(pair.deviceIp, 80, 2), 0x07],
    ['UDP ASSOCIATE', connectRequest(pair.deviceIp, 80, 3), 0x07],
    ['IPv6', connectRequest('::1', 80), 0x08],
  ]
  for (const [what, request, code] of cases) {
    const { reply, socket } = await socksConnect(port, request)
    t.equal(reply, code, `${what}: reply 0x0${code.toString(16)}`)
    socket.destroy()
  }
  const noAuth = await socksConnect(port, connectRequest(pair.deviceIp, 80), [2])
  t.equal(noAuth.reply, 0xff, 'a client offering only username/password: no acceptable method')
  noAuth.socket.destroy()

  await until('the device audits both refusals', () => pair.events.filter((e) => e.event === 'refused').length >= 2)
  const refused = pair.events.filter((e) => e.event === 'refused')
  t.same(refused.map((e) => [e.port, e.reason]).sort(), [[22, 'port-not-allowed'], [81, 'connection-refused']], 'refusals audited with port and reason')
  const counters = pair.device.edge.status().streams!.counters
  t.equal(counters.refused['port-not-allowed'], 1, 'counted: port-not-allowed')
  t.equal(counters.refused['connection-refused'], 1, 'counted: connection-refused')
})

t.test('an edge not asked to accept streams (no --accept-streams) refuses them with no-service, audits and counts it', async (t) => {
  // the device's edge gets no `streams` option: the default of a plain `overlan edge`
  const pair = await streamPair(t, { device: { streams: undefined } })
  pair.services.set(7, await echoServer(t))
  const forward = await listenForward(pair.technician.edge.streams, pair.deviceIp, { localPort: 0, remotePort: 7 })
  t.teardown(() => forward.server.close())
  const back = await roundTrip(forward.address.port, Buffer.from('hello')).catch((err: NodeJS.ErrnoException) => err.code)
  t.ok(back === 'ECONNRESET' || (Buffer.isBuffer(back) && back.length === 0), `the connection ended with nothing from the device (${Buffer.isBuffer(back) ? 'end' : back})`)
  await until('audited', () => pair.events.some((e) => e.event === 'refused'))
  t.same(pair.events.map((e) => [e.event, e.reason]), [['refused', 'no-service']], 'refused as no-service, never opened')
  t.equal(pair.device.edge.status().streams!.counters.refused['no-service'], 1, "counted on the device's edge")
  t.equal(pair.technician.edge.status().streams!.counters.refused['no-service'], 1, "the technician's edge counts the device's reason")
})

t.test('a forward to a port the device does not allow ends the connection at once, and the technician counts why', async (t) => {
  const pair = await streamPair(t, { allow: parseAllow('tcp/443') })
  pair.services.set(22, await echoServer(t))
  const forward = await listenForward(pair.technician.edge.streams, pair.deviceIp, { localPort: 0, remotePort: 22 })
  t.teardown(() => forward.server.close())
  // the connection is closed with the client's bytes unread: the client sees a reset or an end, and no data
  const back = await roundTrip(forward.address.port, Buffer.from('SSH-2.0-test\r\n')).catch((err: NodeJS.ErrnoException) => err.code)
  t.ok(back === 'ECONNRESET' || (Buffer.isBuffer(back) && back.length === 0), `the connection ended with nothing from the device (${Buffer.isBuffer(back) ? 'end' : back})`)
  t.equal(pair.technician.edge.status().streams!.counters.refused['port-not-allowed'], 1, "the technician's edge counts the device's reason")
  await until('audited', () => pair.events.some((e) => e.event === 'refused'))
  t.equal(pair.events.find((e) => e.event === 'refused')!.reason, 'port-not-allowed')
})

t.test('streams over the relay with 5 % of the underlay lost: 1 MB through, byte for byte', async (t) => {
  const transport = await lossyTransport(0.05, 16)
  const pair = await streamPair(t, { technicianTransport: transport, relayOnly: true })
  pair.services.set(7, await echoServer(t))
  const forward = await listenForward(pair.technician.edge.streams, pair.deviceIp, { localPort: 0, remotePort: 7 })
  t.teardown(() => forward.server.close())
  const data = randomBytes(1024 * 1024)
  const back = await roundTrip(forward.address.port, data)
  t.equal(sha256(back), sha256(data), 'the same bytes, in order')
  t.ok(transport.lost > 20, `the underlay lost datagrams (${transport.lost})`)
  t.equal(pair.technician.edge.status().peers[0]!.path, 'relay', 'through the relay')
})

t.test('the device revoking nothing but stopping: the technician side ends its stream within a second', async (t) => {
  const pair = await streamPair(t)
  pair.services.set(7, await echoServer(t))
  const forward = await listenForward(pair.technician.edge.streams, pair.deviceIp, { localPort: 0, remotePort: 7 })
  t.teardown(() => forward.server.close())
  const { connect } = await import('node:net')
  const socket = connect({ host: '127.0.0.1', port: forward.address.port })
  socket.write('x')
  await new Promise((resolve) => socket.once('data', resolve))
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())))
  const stoppedAt = Date.now()
  await pair.device.edge.stop('test')
  const at = await closed
  t.ok(at - stoppedAt < 1000, `closed ${at - stoppedAt} ms after the device stopped`)
})
