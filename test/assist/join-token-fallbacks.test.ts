// Join tokens carry the supernodes' fallback URLs (at most 2); a token without them, as older
// services made, still decodes, and a damaged list is refused with a one-line reason. `overlan
// edge --join` uses them (ws:// ones only with --insecure-fallback) unless --fallback is given.
import t from 'tap'
import { MAX_TOKEN_FALLBACKS, decodeJoinToken, encodeJoinToken, type JoinToken } from '../../src/assist/join-token.js'
import { edgeConfig } from '../../src/cli/edge.js'

const token: JoinToken = { community: 'assist-1', key: 'k'.repeat(32), supernodes: [{ host: '203.0.113.5', port: 7654 }], expiresAt: 1_900_000_000_000, deviceIp: null }
const raw = (json: object): string => 'ovl1.' + Buffer.from(JSON.stringify(json)).toString('base64url')

t.test('fallback URLs go through a token and come back', (t) => {
  const fallbacks = ['wss://sn.example/overlan', 'ws://127.0.0.1:7654/overlan']
  t.same(decodeJoinToken(encodeJoinToken({ ...token, fallbacks })).fallbacks, fallbacks)
  t.end()
})

t.test('a token without fallbacks has none, and its text is what it was before fallbacks existed', (t) => {
  const text = encodeJoinToken(token)
  t.same(decodeJoinToken(text).fallbacks, [])
  t.same(Object.keys(JSON.parse(Buffer.from(text.slice(5), 'base64url').toString()) as object), ['c', 'k', 's', 'e'])
  t.end()
})

t.test('too many or damaged fallbacks are refused, encoding more than 2 is a bug', (t) => {
  const base = { c: 'a', k: 'k', s: ['203.0.113.5:7654'], e: 1 }
  t.throws(() => decodeJoinToken(raw({ ...base, f: ['wss://a/overlan', 'wss://b/overlan', 'wss://c/overlan'] })), /fallback URLs are damaged \(at most 2\)/)
  t.throws(() => decodeJoinToken(raw({ ...base, f: 'wss://a/overlan' })), /fallback URLs are damaged/)
  t.throws(() => decodeJoinToken(raw({ ...base, f: ['https://a/overlan'] })), /bad fallback URL/)
  t.throws(() => encodeJoinToken({ ...token, fallbacks: ['wss://a/overlan', 'wss://b/overlan', 'wss://c/overlan'] }), RangeError)
  t.equal(MAX_TOKEN_FALLBACKS, 2)
  t.end()
})

t.test('edge --join takes the fallbacks from the token: wss:// always, ws:// with --insecure-fallback, --fallback first', (t) => {
  const base = { device: 'ovl0', mtu: 1390, port: 0, mgmt: 'off', 'relay-only': false, 'log-level': 'info' }
  const join = encodeJoinToken({ ...token, expiresAt: Date.now() + 60_000, supernodes: [{ host: 'sn.example', port: 7654 }], fallbacks: ['wss://sn.example/overlan'] })
  const fallbackOf = (c: ReturnType<typeof edgeConfig>): string | undefined => (c.supernodes[0] as { fallback?: URL | null }).fallback?.toString()
  t.equal(fallbackOf(edgeConfig({ ...base, join }, {})), 'wss://sn.example/overlan', "the token's wss:// fallback is used")
  t.equal(fallbackOf(edgeConfig({ ...base, join, fallback: ['wss://other.example/overlan'] }, {})), 'wss://other.example/overlan', '--fallback wins over the token')
  const plain = encodeJoinToken({ ...token, expiresAt: Date.now() + 60_000, supernodes: [{ host: '127.0.0.1', port: 7654 }], fallbacks: ['ws://127.0.0.1:7654/overlan'] })
  t.equal(fallbackOf(edgeConfig({ ...base, join: plain }, {})), undefined, 'a ws:// fallback is left out without --insecure-fallback')
  t.equal(fallbackOf(edgeConfig({ ...base, join: plain, 'insecure-fallback': true }, {})), 'ws://127.0.0.1:7654/overlan', 'and used with it')
  t.end()
})
