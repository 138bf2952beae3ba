// How a technician reaches the token's supernodes (src/cli/edge-join.ts joinReach), for its
// enrollment and its edge alike: the token's wss:// fallback goes with the supernode of its host;
// a ws:// one only with --insecure-fallback; --ca-file is handed to the fallbacks, and refused in
// one line when the token carries no wss:// URL; HTTPS_PROXY applies to the wss:// URL; --fallback
// replaces the token's URLs, checked as strictly.
import t from 'tap'
import type { JoinTokenV2 } from '../../src/assist/join-token.js'
import { joinReach, type JoinPlan } from '../../src/cli/edge-join.js'
import { CliError } from '../../src/cli/errors.js'

function plan(fallbacks: string[]): JoinPlan {
  const token: JoinTokenV2 = {
    supernodes: [
      { host: '192.0.2.10', port: 7654, ports: [7654, 443] },
      { host: 'sn2.example', port: 7654, ports: [7654] },
    ],
    fallbacks,
    authorityKey: Buffer.alloc(32, 1),
    deviceKey: Buffer.alloc(32, 2),
    deviceName: 'device',
    deviceIp: { address: '10.9.0.1', prefix: 24 },
    deviceHostName: 'device.overlan',
    expiresAt: Date.now() + 3_600_000,
    enrollmentSecret: Buffer.alloc(32, 3),
  }
  return { token, name: 'alice', identityFile: null }
}

t.test("the token's wss:// URL goes with its supernode, by host; the other supernode has none", (t) => {
  const reach = joinReach(plan(['wss://sn2.example/overlan']), { insecure: false, ca: undefined }, {})
  t.same(reach.supernodes.map((s) => s.fallback?.href ?? null), [null, 'wss://sn2.example/overlan'])
  t.same(reach.supernodes[0]!.ports, [7654, 443], 'UDP ports as the token lists them')
  t.equal(reach.fallback.ca, undefined, "the system's CAs")
  t.end()
})

t.test('a ws:// URL only with --insecure-fallback', (t) => {
  const urls = ['ws://192.0.2.10:7654/overlan']
  t.same(joinReach(plan(urls), { insecure: false, ca: undefined }, {}).supernodes.map((s) => s.fallback), [null, null], 'ignored without it')
  t.same(joinReach(plan(urls), { insecure: true, ca: undefined }, {}).supernodes.map((s) => s.fallback?.href ?? null), ['ws://192.0.2.10:7654/overlan', null], 'used with it')
  t.end()
})

t.test('--ca-file goes to the fallbacks; without a wss:// URL in the token it is refused in one line', (t) => {
  const pem = '-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n'
  t.equal(joinReach(plan(['wss://192.0.2.10/overlan']), { insecure: false, ca: pem }, {}).fallback.ca, pem)
  t.throws(() => joinReach(plan([]), { insecure: false, ca: pem }, {}), new CliError("--ca-file checks the fallback's certificate: this join token carries no wss:// fallback URL (give one with --fallback)"))
  t.throws(() => joinReach(plan(['ws://192.0.2.10:7654/overlan']), { insecure: false, ca: pem }, {}), /--ca-file/, 'a ws:// URL alone does not count')
  t.end()
})

t.test('HTTPS_PROXY applies to the wss:// fallback, NO_PROXY exempts a host', (t) => {
  const reach = joinReach(plan(['wss://sn2.example/overlan']), { insecure: false, ca: undefined }, { HTTPS_PROXY: 'http://proxy.corp:3128' })
  t.match(reach.fallback.proxy?.(new URL('wss://sn2.example/overlan')), { host: 'proxy.corp', port: 3128 })
  const direct = joinReach(plan(['wss://sn2.example/overlan']), { insecure: false, ca: undefined }, { HTTPS_PROXY: 'http://proxy.corp:3128', NO_PROXY: 'sn2.example' })
  t.equal(direct.fallback.proxy?.(new URL('wss://sn2.example/overlan')), null)
  t.end()
})

t.test("--fallback replaces the token's URLs, paired by host the same way; a ws:// one needs --insecure-fallback", (t) => {
  const token = ['wss://sn2.example/overlan']
  const reach = joinReach(plan(token), { insecure: false, ca: undefined, fallbacks: ['wss://192.0.2.10/overlan'] }, {})
  t.same(reach.supernodes.map((s) => s.fallback?.href ?? null), ['wss://192.0.2.10/overlan', null], "the given URL, not the token's")
  t.same(joinReach(plan([]), { insecure: false, ca: undefined, fallbacks: ['wss://sn2.example:8443/overlan'] }, {}).supernodes.map((s) => s.fallback?.href ?? null), [null, 'wss://sn2.example:8443/overlan'], 'also when the token carries none')
  const pem = '-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n'
  t.equal(joinReach(plan([]), { insecure: false, ca: pem, fallbacks: ['wss://192.0.2.10/overlan'] }, {}).fallback.ca, pem, '--ca-file with a given wss:// URL')
  t.throws(() => joinReach(plan(token), { insecure: false, ca: undefined, fallbacks: ['ws://192.0.2.10/overlan'] }, {}), new CliError('--fallback: "ws://192.0.2.10/overlan": ws:// is not encrypted by TLS; use wss://, or allow it with --insecure-fallback'), 'a ws:// URL given without --insecure-fallback is refused, not dropped')
  t.same(joinReach(plan(token), { insecure: false, ca: undefined, fallbacks: [] }, {}).supernodes.map((s) => s.fallback?.href ?? null), [null, 'wss://sn2.example/overlan'], "none given: the token's")
  t.end()
})
