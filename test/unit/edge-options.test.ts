// `overlan edge` option handling without a TAP device: what becomes the edge's config, and the
// one-line refusals (no root needed: nothing here opens a device).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { encodeJoinToken, decodeJoinToken } from '../../src/assist/join-token.js'
import { edgeConfig } from '../../src/cli/edge.js'

const base = { device: 'ovl0', mtu: 1390, port: 0, mgmt: '127.0.0.1:5644', 'relay-only': false, 'log-level': 'info' }

t.test('n2n-style options', (t) => {
  const c = edgeConfig({ ...base, community: 'lab', key: 'secret', address: '10.9.0.1/24', supernode: ['sn.example:7654', '192.0.2.1'] }, {})
  t.match(c, { community: 'lab', key: 'secret', overlay: { address: '10.9.0.1', prefix: 24 }, supernodes: [{ host: 'sn.example', port: 7654 }, { host: '192.0.2.1', port: 7654 }], mgmt: { host: '127.0.0.1', port: 5644 } })
  t.equal(edgeConfig({ ...base, community: 'lab', supernode: ['x:1'] }, { OVERLAN_KEY: 'from-env' }).key, 'from-env', 'key from OVERLAN_KEY')
  t.equal(edgeConfig({ ...base, community: 'lab', supernode: ['x:1'], mgmt: 'off' }, { OVERLAN_KEY: 'k' }).mgmt, null)
  t.same(edgeConfig({ ...base, community: 'lab', supernode: ['x:1'], allow: 'tcp/22,icmp' }, { OVERLAN_KEY: 'k' }).allow, { tcp: [{ from: 22, to: 22 }], udp: [], icmp: true })
  t.equal(edgeConfig({ ...base, community: 'lab', supernode: ['x:1'] }, { OVERLAN_KEY: 'k' }).overlay, null, 'no -a: the supernode assigns')
  t.end()
})

t.test('--expires-at months ahead is accepted as given (the expiry is a wall-clock deadline, no 24.8-day timer limit)', (t) => {
  const at = new Date(Date.now() + 90 * 86_400_000).toISOString()
  t.equal(edgeConfig({ ...base, community: 'lab', key: 'k', supernode: ['x:1'], 'expires-at': at }, {}).expiresAt, Date.parse(at))
  t.end()
})

t.test('--mgmt-host-name: names the management listener answers to, carried in its listen address', (t) => {
  const c = edgeConfig({ ...base, community: 'lab', key: 'k', supernode: ['x:1'], 'mgmt-host-name': ['Mon.LAN', '::1'] }, {})
  t.match(c.mgmt, { host: '127.0.0.1', port: 5644, hostNames: ['mon.lan', '::1'] })
  t.throws(() => edgeConfig({ ...base, community: 'lab', key: 'k', supernode: ['x:1'], 'mgmt-host-name': ['mon.lan:5644'] }, {}), { message: /^--mgmt-host-name: "mon\.lan:5644" is not a host name or address \(give no port/ })
  t.throws(() => edgeConfig({ ...base, community: 'lab', key: 'k', supernode: ['x:1'], 'mgmt-host-name': ['a b'] }, {}), { message: /^--mgmt-host-name/ })
  t.end()
})

t.test('refusals name the option', (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ supernode: ['x:1'], key: 'k' }, /-c/],
    [{ community: 'lab', supernode: ['x:1'] }, /community key/],
    [{ community: 'lab', key: 'k' }, /-l/],
    [{ community: 'lab', key: 'k', supernode: ['x:1'], address: '10.9.0.1' }, /^-a/],
    [{ community: 'lab', key: 'k', supernode: ['x:1'], address: '300.1.1.1/24' }, /^-a/],
    [{ community: 'lab', key: 'k', supernode: ['x:99999'] }, /^-l/],
    [{ community: 'lab', key: 'k', supernode: ['x:1'], 'expires-at': 'tomorrow' }, /--expires-at/],
    [{ community: 'lab', key: 'k', supernode: ['x:1'], 'expires-at': '2001-01-01T00:00:00Z' }, /already past/],
    [{ community: 'lab', key: 'k', supernode: ['x:1'], allow: 'tcp/x' }, /--allow/],
    [{ community: 'lab', key: 'k', 'key-file': '/nonexistent', supernode: ['x:1'] }, /once/],
    [{ community: 'lab', 'key-file': '/nonexistent/key', supernode: ['x:1'] }, /--key-file: cannot read/],
    [{ join: 'garbage' }, /--join: not an overlan join token/],
    [{ join: 'ovl1.!!!' }, /--join/],
  ]
  for (const [args, message] of cases) t.throws(() => edgeConfig({ ...base, ...args }, {}), { message }, JSON.stringify(args))
  t.end()
})

t.test('--join: the token carries everything; an expired one is refused', (t) => {
  const token = encodeJoinToken({ community: 'assist-1', key: 'k'.repeat(32), supernodes: [{ host: '203.0.113.5', port: 7654 }], expiresAt: Date.now() + 60_000, deviceIp: { address: '10.9.0.1', prefix: 24 } })
  t.match(decodeJoinToken(token), { community: 'assist-1', deviceIp: { address: '10.9.0.1', prefix: 24 } })
  const c = edgeConfig({ ...base, join: token }, {})
  t.match(c, { community: 'assist-1', key: 'k'.repeat(32), supernodes: [{ host: '203.0.113.5', port: 7654 }], overlay: null })
  t.ok(c.expiresAt! > Date.now(), 'the edge stops by itself when the session ends')
  t.throws(() => edgeConfig({ ...base, join: token, community: 'x' }, {}), { message: /no -c/ })
  const expired = encodeJoinToken({ community: 'a', key: 'k', supernodes: [{ host: '203.0.113.5', port: 7654 }], expiresAt: Date.now() - 1, deviceIp: null })
  t.throws(() => edgeConfig({ ...base, join: expired }, {}), { message: /expired/ })
  t.notMatch(String((() => { try { decodeJoinToken('ovl1.' + Buffer.from('{"c":"a","k":"SECRET","s":[],"e":1}').toString('base64url')) } catch (e) { return (e as Error).message } })()), /SECRET/, 'errors never echo the key')
  t.end()
})

t.test('--fallback: each URL goes to the -l with its host, else in order; -l lists UDP ports', (t) => {
  const c = edgeConfig({ ...base, community: 'lab', key: 'k', supernode: ['a.example:7654,443', 'b.example'], fallback: ['wss://b.example:8443/overlan', 'wss://relay.example/overlan'] }, {})
  t.match(c.supernodes, [
    { host: 'a.example', port: 7654, ports: [7654, 443], fallback: new URL('wss://relay.example/overlan') },
    { host: 'b.example', port: 7654, ports: [7654], fallback: new URL('wss://b.example:8443/overlan') },
  ])
  t.equal(c.fallback?.ca, undefined, 'the system CAs')
  const proxied = edgeConfig({ ...base, community: 'lab', key: 'k', supernode: ['a.example'], fallback: ['wss://a.example/overlan'] }, { HTTPS_PROXY: 'http://u:p@proxy.lan:3128', NO_PROXY: 'b.example' })
  t.match(proxied.fallback?.proxy?.(new URL('wss://a.example/overlan')), { host: 'proxy.lan', port: 3128, auth: 'u:p' }, 'HTTPS_PROXY from the environment')
  t.equal(proxied.fallback?.proxy?.(new URL('wss://b.example/overlan')), null, 'NO_PROXY from the environment')
  const plain = edgeConfig({ ...base, community: 'lab', key: 'k', supernode: ['10.0.0.1'], fallback: ['ws://10.0.0.1:8080/overlan'], 'insecure-fallback': true }, {})
  t.equal(plain.supernodes[0]!.fallback?.protocol, 'ws:', 'ws:// with --insecure-fallback')
  t.end()
})

t.test('--fallback, --insecure-fallback, --ca-file and the proxy variables: one-line refusals naming the option', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-opts-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const notPem = join(dir, 'not.pem')
  writeFileSync(notPem, 'hello')
  const one = { ...base, community: 'lab', key: 'k', supernode: ['sn.example'] }
  const cases: [Record<string, unknown>, NodeJS.ProcessEnv, RegExp][] = [
    [{ fallback: ['https://sn.example/overlan'] }, {}, /^--fallback: "https:\/\/sn\.example\/overlan": the scheme must be wss:\/\//],
    [{ fallback: ['ws://sn.example/overlan'] }, {}, /^--fallback: .*use wss:\/\/, or allow it with --insecure-fallback/],
    [{ fallback: ['wss://sn.example/'] }, {}, /^--fallback: .*the path must be \/overlan/],
    [{ fallback: ['wss://sn.example:99999/overlan'] }, {}, /^--fallback: .*port must be 1 to 65535/],
    [{ fallback: ['wss://sn.example/overlan', 'wss://other.example/overlan'] }, {}, /^--fallback: .*every supernode already has a fallback/],
    [{ 'insecure-fallback': true }, {}, /^--insecure-fallback allows ws:\/\/ fallbacks: give them with --fallback/],
    [{ 'ca-file': notPem }, {}, /^--ca-file checks the fallback's certificate/],
    [{ fallback: ['wss://sn.example/overlan'], 'ca-file': notPem }, {}, /^--ca-file: .*not\.pem holds no PEM certificate/],
    [{ fallback: ['wss://sn.example/overlan'], 'ca-file': join(dir, 'missing.pem') }, {}, /^--ca-file: cannot read .*missing\.pem: ENOENT/],
    [{ fallback: ['wss://sn.example/overlan'] }, { HTTPS_PROXY: 'socks5://p:1080' }, /^HTTPS_PROXY: proxy "socks5:\/\/p:1080": only http:\/\/ proxies are supported/],
    [{ supernode: ['sn.example:7654,'] }, {}, /^-l: .*an empty port in the list/],
  ]
  for (const [args, env, message] of cases) {
    t.throws(() => edgeConfig({ ...one, ...args }, env), { message }, JSON.stringify(args))
  }
  t.end()
})
