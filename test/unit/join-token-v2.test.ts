// The ovl2 join token: every field round-trips, a full-size token stays within 700 characters, and
// bad tokens get one clear line that never echoes the enrollment secret; an ovl1 token is told apart.
import t from 'tap'
import { MAX_TOKEN_V2_CHARS, decodeJoinTokenV2, encodeJoinToken, encodeJoinTokenV2 } from '../../src/assist/join-token.js'
import { sampleJoinTokenV2 } from '../fixtures/join-token-v2.js'

t.test('a token with 4 supernodes and 2 fallbacks of 40 characters round-trips within 700 characters', (t) => {
  const { token, text } = sampleJoinTokenV2()
  t.equal(token.fallbacks[0]!.length, 40)
  t.ok(text.startsWith('ovl2.'))
  t.ok(text.length <= MAX_TOKEN_V2_CHARS, `${text.length} characters`)
  t.comment(`full-size ovl2 token: ${text.length} characters`)
  const back = decodeJoinTokenV2(`  ${text}\n`)
  t.same(back.supernodes, token.supernodes.map((s) => ({ host: s.host, port: 7654, ports: [7654, 443] })))
  t.same(back.fallbacks, token.fallbacks)
  t.ok(back.authorityKey.equals(token.authorityKey) && back.deviceKey.equals(token.deviceKey) && back.enrollmentSecret.equals(token.enrollmentSecret), 'keys and secret')
  t.same([back.deviceName, back.deviceHostName, back.deviceIp, back.expiresAt], [token.deviceName, token.deviceHostName, token.deviceIp, token.expiresAt])
  t.match(/^[A-Za-z0-9_.-]+$/.test(text), true, 'copy-paste safe: base64url only')
  t.end()
})

t.test('bad tokens: one line each, naming the problem, never the secret', (t) => {
  const { token, text } = sampleJoinTokenV2()
  const old = encodeJoinToken({ community: 'c', key: 'k', supernodes: [{ host: 'a', port: 1 }], expiresAt: 1, deviceIp: null })
  t.throws(() => decodeJoinTokenV2(old), { message: 'this join token is from overlan 0.1/0.2 (shared key): ask for a new one' })
  t.throws(() => decodeJoinTokenV2('hello'), /not an overlan join token/)
  t.throws(() => decodeJoinTokenV2(text.slice(0, -10)), { message: 'the join token is damaged (copy it again, whole)' })
  t.throws(() => decodeJoinTokenV2(text + '$'), { message: 'the join token is damaged (copy it again, whole)' })
  const bytes = Buffer.from(text.slice(5), 'base64url')
  const newer = Buffer.from(bytes)
  newer[0] = 3
  t.throws(() => decodeJoinTokenV2('ovl2.' + newer.toString('base64url')), /newer overlan/)
  const noName = encodeJoinTokenV2({ ...token, deviceName: 'bell\u0007' })
  t.throws(() => decodeJoinTokenV2(noName), /damaged/, 'a control character in a name the terminal would print')
  const secretHex = token.enrollmentSecret.toString('hex')
  for (const bad of [text.slice(0, 200), text.slice(0, -1), 'ovl2.' + bytes.subarray(0, 150).toString('base64url')]) {
    try {
      decodeJoinTokenV2(bad)
      t.fail('should refuse')
    } catch (err) {
      t.notMatch((err as Error).message, secretHex)
      t.notMatch((err as Error).message, token.enrollmentSecret.toString('base64url'))
    }
  }
  t.throws(() => encodeJoinTokenV2({ ...token, supernodes: [] }), /1\.\.4 supernodes/)
  t.end()
})
