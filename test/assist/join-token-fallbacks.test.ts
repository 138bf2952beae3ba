// Join tokens carry the supernodes' fallback URLs (at most 2); a token without them, as older
// services made, still decodes, and a damaged list is refused with a one-line reason.
import t from 'tap'
import { MAX_TOKEN_FALLBACKS, decodeJoinToken, encodeJoinToken, type JoinToken } from '../../src/assist/join-token.js'

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
