// netcheck against a real supernode on 127.0.0.1 with two UDP ports and a TLS WebSocket listener
// whose certificate a private CA made by the test signed: every port answers from one socket, the
// fallback answers a HELLO with a COOKIE (directly and through tinyproxy, named in the sentence),
// a wrong CA is a failure named in a sentence, and a supernode whose clock runs 5 minutes ahead
// makes netcheck say this device's clock is behind.
import t from 'tap'
import { tlsProber } from '../../src/netcheck/tls-probe.js'
import { runNetcheck, type NetcheckDeps } from '../../src/netcheck/netcheck.js'
import { Supernode } from '../../src/supernode/supernode.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { DEFAULT_WS_MAX_CONNECTIONS, DEFAULT_WS_MAX_PER_ADDRESS } from '../../src/net/ws-listener.js'
import { freeTcpPort, silentUdpPort } from '../fixtures/free-port.js'
import { makePrivateCa } from '../fixtures/private-ca.js'
import { startTinyproxy, tinyproxyInstalled } from '../fixtures/tinyproxy.js'

const ca = makePrivateCa(t, ['localhost', '127.0.0.1'])
const noV6: Pick<NetcheckDeps, 'interfaces'> = { interfaces: () => ({ lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true, netmask: '255.0.0.0', mac: '', cidr: null }] }) }

async function supernode(clock?: ManualClock): Promise<Supernode> {
  const ws = { port: 0, bindAddress: '127.0.0.1', tls: { cert: Buffer.from(ca.cert), key: Buffer.from(ca.key) }, trustProxy: false, maxConnections: DEFAULT_WS_MAX_CONNECTIONS, maxPerAddress: DEFAULT_WS_MAX_PER_ADDRESS }
  const sn = await Supernode.start({ port: 0, extraPorts: [0], bindAddress: '127.0.0.1', mgmt: null, ws }, { clock })
  t.teardown(() => sn.stop())
  return sn
}

t.test('two UDP ports and the TLS fallback of one supernode: both ports, HTTPS works too, the clock agrees', async (t) => {
  const sn = await supernode()
  const [udpA, udpB] = sn.udpPorts as [number, number]
  const url = `wss://localhost:${sn.tcpPort}/overlan`
  const report = await runNetcheck({ supernodes: [{ host: '127.0.0.1', ports: [udpA, udpB] }], fallbacks: [url] }, { probeTls: tlsProber({ ca: ca.caPem, env: {} }), ...noV6 })
  t.match(report.ports, [{ port: udpA, reachable: true }, { port: udpB, reachable: true }])
  t.match(report.nat, { mapping: 'endpoint-independent', behindNat: false, portPreserved: true, destinations: 2 })
  t.match(report.tls, { tested: true, reachable: true, rttMs: Number, url, proxy: null })
  t.ok(report.clockSkewMs !== null && Math.abs(report.clockSkewMs) < 1_000, `clock skew on one host is near 0 (${report.clockSkewMs} ms)`)
  t.match(report.sentences[0], new RegExp(`^UDP to the supernode 127\\.0\\.0\\.1 works on ports ${udpA} and ${udpB} \\(`))
  t.match(report.sentences[1], new RegExp(`^HTTPS on port ${sn.tcpPort} works too \\((under 1|\\d+) ms\\): overlan can use it if UDP stops working\\.$`))
  t.match(report.sentences.at(-1), /^This device's clock agrees with the supernode's \(less than a second apart\)\.$/)
  t.comment(report.sentences.join('\n'))
})

t.test('UDP silent, the fallback answers: overlan will connect through HTTPS', async (t) => {
  const sn = await supernode()
  const silentUdp = await silentUdpPort(t)
  const report = await runNetcheck({ supernodes: [{ host: '127.0.0.1', ports: [silentUdp] }], fallbacks: [`wss://localhost:${sn.tcpPort}/overlan`], timeoutMs: 600 }, { probeTls: tlsProber({ ca: ca.caPem, env: {} }), ...noV6 })
  t.equal(report.udp.reachable, false)
  t.equal(report.canConnect, true)
  t.match(report.sentences[0], new RegExp(`^UDP is blocked on this network; HTTPS on port ${sn.tcpPort} works \\((under 1|\\d+) ms\\): overlan will connect through it, slower\\.$`))
  t.ok(report.clockSkewMs !== null, 'the skew comes from the fallback COOKIE when UDP is silent')
})

t.test('a certificate from another CA: HTTPS fails and the sentence says why', async (t) => {
  const sn = await supernode()
  const other = makePrivateCa(t, ['localhost'])
  const report = await runNetcheck({ supernodes: [{ host: '127.0.0.1', ports: [sn.port] }], fallbacks: [`wss://localhost:${sn.tcpPort}/overlan`] }, { probeTls: tlsProber({ ca: other.caPem, env: {} }), ...noV6 })
  t.match(report.tls, { tested: true, reachable: false, error: /^TLS with localhost:\d+ failed/ })
  t.match(report.sentences[1], new RegExp(`^HTTPS on port ${sn.tcpPort} does not work \\(TLS with localhost:\\d+ failed: .+\\); overlan uses UDP, which works\\.$`))
})

t.test('through an HTTP CONNECT proxy (HTTPS_PROXY): the proxy is named', async (t) => {
  if (!tinyproxyInstalled()) {
    t.fail('tinyproxy is not installed (apt-get install tinyproxy): the proxy case cannot run')
    return
  }
  const sn = await supernode()
  const proxy = await startTinyproxy(t, { host: '127.0.0.1', port: await freeTcpPort() })
  const env = { HTTPS_PROXY: `http://127.0.0.1:${proxy.port}` }
  const report = await runNetcheck({ supernodes: [{ host: '127.0.0.1', ports: [sn.port] }], fallbacks: [`wss://localhost:${sn.tcpPort}/overlan`] }, { probeTls: tlsProber({ ca: ca.caPem, env }), ...noV6 })
  t.equal(report.tls.reachable, true)
  t.equal(report.tls.proxy, `http://127.0.0.1:${proxy.port}`)
  t.match(report.sentences[1], new RegExp(`works too \\(.+\\) through the proxy http://127\\.0\\.0\\.1:${proxy.port}: `))
  t.match(proxy.log(), new RegExp(`localhost:${sn.tcpPort}`), 'the tunnel went through the proxy')
})

t.test("a supernode whose clock is 5 minutes ahead: this device's clock is behind", async (t) => {
  const clock = new ManualClock(Date.now() + 300_000)
  const sn = await supernode(clock)
  const report = await runNetcheck({ supernodes: [{ host: '127.0.0.1', ports: [sn.port] }], fallbacks: [] }, { probeTls: tlsProber({ env: {} }), ...noV6 })
  t.ok(report.clockSkewMs !== null && Math.abs(report.clockSkewMs - 300_000) < 2_000, `skew ${report.clockSkewMs} ms, 300000 expected`)
  t.match(report.sentences.at(-1), /^This device's clock is (5 min 0 s|4 min 59 s|5 min 1 s) behind the supernode's: set it right \(turn on NTP\), as certificates will need it\.$/)
})
