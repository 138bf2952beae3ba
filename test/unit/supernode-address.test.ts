// How -l and --fallback are read (src/net/address.ts): a supernode with several UDP ports, a
// fallback URL's scheme, path and port, and which fallback belongs to which supernode. Every
// refusal is one line that says what is wrong.
import t from 'tap'
import { formatSupernodeAddress, pairFallbacks, parseFallbackUrl, parseSupernodeAddress } from '../../src/net/address.js'

t.test('a supernode address may list several UDP ports; the first is its port', (t) => {
  t.same(parseSupernodeAddress('sn.example:7654,443', 7654), { host: 'sn.example', port: 7654, ports: [7654, 443] })
  t.same(parseSupernodeAddress('10.0.0.1:443, 53', 7654), { host: '10.0.0.1', port: 443, ports: [443, 53] })
  t.same(parseSupernodeAddress('[::1]:7654,443', 7654), { host: '::1', port: 7654, ports: [7654, 443] })
  t.same(parseSupernodeAddress('sn.example', 7654), { host: 'sn.example', port: 7654, ports: [7654] }, 'no port: the default')
  t.same(parseSupernodeAddress('::1', 7654), { host: '::1', port: 7654, ports: [7654] }, 'a bare IPv6 address is not a port list')
  t.equal(formatSupernodeAddress(parseSupernodeAddress('[::1]:7654,443', 1)), '[::1]:7654,443')
  t.equal(formatSupernodeAddress({ host: 'a', port: 1 }), 'a:1', 'a plain HostPort formats as before')
  t.end()
})

t.test('bad port lists are refused in one line that names the problem', (t) => {
  const cases: [string, RegExp][] = [
    ['sn:7654,', /an empty port in the list/],
    ['sn:7654,,443', /an empty port in the list/],
    ['sn:7654,70000', /port 70000 must be 1 to 65535/],
    ['sn:7654,0', /port 0 must be 1 to 65535/],
    ['sn:7654,7654', /listed twice/],
    ['sn:1,2,3,4,5,6,7,8,9', /at most 8 ports/],
    [':7654,443', /has no host/],
    ['s n:7654,443', /not a host name/],
  ]
  for (const [text, why] of cases) {
    t.throws(() => parseSupernodeAddress(text, 7654), why, text)
    try {
      parseSupernodeAddress(text, 7654)
    } catch (err) {
      t.notMatch((err as Error).message, /\n/, `${text}: one line`)
    }
  }
  t.end()
})

t.test('a fallback is wss://HOST[:PORT]/overlan; ws:// only when allowed', (t) => {
  t.equal(parseFallbackUrl('wss://sn.example/overlan', false).href, 'wss://sn.example/overlan')
  t.equal(parseFallbackUrl('wss://sn.example:8443/overlan', false).port, '8443')
  t.equal(parseFallbackUrl('ws://127.0.0.1:8080/overlan', true).protocol, 'ws:')
  const cases: [string, boolean, RegExp][] = [
    ['ws://sn.example/overlan', false, /ws:\/\/ is not encrypted by TLS; use wss:\/\/, or allow it with --insecure-fallback/],
    ['https://sn.example/overlan', false, /the scheme must be wss:\/\/ \(not https:\/\/\)/],
    ['wss://sn.example/', false, /the path must be \/overlan/],
    ['wss://sn.example/overlan?x=1', false, /the path must be \/overlan/],
    ['wss://sn.example:0/overlan', false, /port must be 1 to 65535/],
    ['wss://sn.example:123456/overlan', false, /port must be 1 to 65535/],
    ['wss://u:p@sn.example/overlan', false, /no user or password/],
    ['sn.example:443', false, /scheme must be wss:\/\/|not a URL/],
    ['nonsense', false, /not a URL like wss:\/\/sn.example\/overlan/],
  ]
  for (const [text, plain, why] of cases) t.throws(() => parseFallbackUrl(text, plain), why, text)
  t.end()
})

t.test('fallbacks pair with supernodes by host, then by order', (t) => {
  const a = { host: 'a.example', port: 7654 }
  const b = { host: 'b.example', port: 7654 }
  const url = (s: string): URL => new URL(s)
  const byHost = pairFallbacks([a, b], [url('wss://b.example/overlan'), url('wss://a.example:8443/overlan')])
  t.same(byHost.map((s) => s.fallback?.href), ['wss://a.example:8443/overlan', 'wss://b.example/overlan'], 'the host decides, whatever the order')
  const byOrder = pairFallbacks([a, b], [url('wss://relay.example/overlan')])
  t.same(byOrder.map((s) => s.fallback?.href ?? null), ['wss://relay.example/overlan', null], 'another host: the first supernode without one')
  const mixed = pairFallbacks([a, b], [url('wss://x.example/overlan'), url('wss://a.example/overlan')])
  t.same(mixed.map((s) => s.fallback?.host), ['a.example', 'x.example'], 'host matches first, the rest in order')
  t.throws(() => pairFallbacks([a], [url('wss://a.example/overlan'), url('wss://a.example:1/overlan')]), /a\.example:7654 already has the fallback/)
  t.throws(() => pairFallbacks([a], [url('wss://a.example/overlan'), url('wss://z.example/overlan')]), /every supernode already has a fallback/)
  t.end()
})
