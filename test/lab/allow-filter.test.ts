// --allow on the device's edge: with tcp/8080 only, the technician connects to 8080 but not to
// 2222 and cannot ping; connections the device opens itself get their replies; restarted with
// tcp/8080,icmp the device answers pings.
import t from 'tap'
import { natLab } from '../fixtures/lab.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const DEVICE_MAC = '02:0a:11:00:00:02'

t.test('--allow tcp/8080: only that port (and replies) reach the device; icmp added on restart', async (t) => {
  if (skipUnlessRoot(t, 'the --allow filter on real TCP and ping')) return
  const lab = await natLab(t)
  const deviceSite = await lab.addPublicHost()
  const techSite = await lab.addPublicHost()
  await lab.startSupernode()
  await Promise.all([lab.tcpListen(deviceSite.ns, 8080), lab.tcpListen(deviceSite.ns, 2222), lab.tcpListen(techSite.ns, 9090)])
  const options = { address: '10.9.0.2/24', mac: DEVICE_MAC, name: 'device' }
  let device = lab.startEdge(deviceSite, { ...options, allow: 'tcp/8080' }, 'device')
  const tech = lab.startEdge(techSite, { address: '10.9.0.1/24', name: 'technician' })
  t.ok((await device.waitRegistered(30_000)).ok, 'device registered')
  t.ok((await tech.waitRegistered(30_000)).ok, 'technician registered')

  const allowed = await lab.tcpConnect(techSite.ns, device.ip, 8080, 8_000)
  t.comment(`technician → device:8080 ${JSON.stringify(allowed)}`)
  t.match(allowed, { connected: true, data: 'hello from 8080\n' }, 'tcp/8080 connects and the greeting arrives')
  const refused = await lab.tcpConnect(techSite.ns, device.ip, 2222, 3_000)
  t.comment(`technician → device:2222 ${JSON.stringify(refused)}`)
  t.equal(refused.connected, false, 'tcp/2222 does not connect')
  const ping = await lab.ping(techSite.ns, device.ip, 3)
  t.equal(ping.received, 0, `ping is not allowed (${ping.received}/${ping.transmitted})`)
  const outbound = await lab.tcpConnect(deviceSite.ns, tech.ip, 9090, 5_000)
  t.comment(`device → technician:9090 ${JSON.stringify(outbound)}`)
  t.match(outbound, { connected: true, data: 'hello from 9090\n' }, "the device's own connection gets its replies")
  const drops = (await device.status()).drops['not-allowed'] ?? 0
  t.ok(drops >= 3, `the device edge counted not-allowed drops (${drops})`)

  const exit = await device.stop('SIGTERM')
  t.same(exit, { code: 0, signal: null }, 'SIGTERM: the device edge exits 0')
  t.notOk(await lab.hasTap(deviceSite.ns), 'and its TAP is gone')
  const restartedAt = Date.now()
  device = lab.startEdge(deviceSite, { ...options, allow: 'tcp/8080,icmp' }, 'device-icmp')
  t.ok((await device.waitRegistered(30_000)).ok, 'restarted device registered')
  const first = await lab.firstReply(techSite.ns, device.ip, 15_000)
  t.comment(`after the restart with tcp/8080,icmp: first ping answered ${first.at - restartedAt} ms after the new edge started`)
  t.ok(first.ok, 'ping is answered now')
  const again = await lab.ping(techSite.ns, device.ip, 3)
  t.equal(again.received, 3, `steady pings ${again.received}/${again.transmitted}`)
  const stillRefused = await lab.tcpConnect(techSite.ns, device.ip, 2222, 3_000)
  t.equal(stillRefused.connected, false, 'tcp/2222 still does not connect')
})
