// The edge's management API, as a monitoring system reads it: /status with peers, supernodes and
// drop counters in the documented shape, /metrics in Prometheus text format.
import t from 'tap'
import { ipv4Frame } from '../fixtures/frames.js'
import { pathOf, registered, startEdge, startSupernode, until } from '../fixtures/overlay.js'

t.test('edge /status and /metrics', async (t) => {
  const sn = await startSupernode(t)
  const a = await startEdge(t, [sn], { mgmt: { host: '127.0.0.1', port: 0 }, name: 'device' })
  const b = await startEdge(t, [sn], { name: 'technician' })
  await Promise.all([registered(a), registered(b)])
  b.tap.inject(ipv4Frame(a.tap.mac, b.tap.mac, '10.9.0.2', a.edge.overlay!.address))
  await until('direct', () => pathOf(a, b) === 'direct')
  const base = `http://127.0.0.1:${a.edge.mgmtAddress!.port}`

  const status = (await (await fetch(`${base}/status`)).json()) as Record<string, unknown>
  t.match(status, {
    edgeId: /^[0-9a-f]{14}$/,
    name: 'device',
    ip: `${a.edge.overlay!.address}/24`,
    supernodes: [{ address: `127.0.0.1:${sn.port}`, registered: true, rttMs: Number, publicEndpoint: /^127\.0\.0\.1:\d+$/ }],
    peers: [
      {
        id: /^[0-9a-f]{14}$/,
        mac: /^02:00:00:00:00:/,
        ip: b.edge.overlay!.address,
        name: 'technician',
        path: 'direct',
        endpoint: /^127\.0\.0\.1:\d+$/,
        rttMs: Number,
        lastSeenMs: Number,
        rxPackets: 1,
        txPackets: 0,
        rxBytes: 98,
        txBytes: 0,
      },
    ],
    drops: { 'auth-failed': 0, 'not-our-ip': 0, 'foreign-src-mac': 0 },
  })
  t.notMatch(JSON.stringify(status), /secret|dataKey|signSecret/, 'no key material')

  const metrics = await (await fetch(`${base}/metrics`)).text()
  t.match(metrics, /^# TYPE overlan_edge_dropped_total counter$/m)
  t.match(metrics, /^overlan_edge_dropped_total\{reason="replayed"\} 0$/m)
  t.match(metrics, /^overlan_edge_peers\{path="direct"\} 1$/m)
  t.match(metrics, /^overlan_edge_supernodes_registered 1$/m)
})
