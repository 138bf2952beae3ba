// A supernode in a join token may list every UDP port it answers on ("host:7654,443", as `-l`
// takes it): the technician's edge then tries them all at once, as `overlan edge -l` does. A token
// with one port per supernode reads as it always did; a supernode address without a port, with
// port 0 or with a port twice is refused with one line.
import t from 'tap'
import { decodeJoinToken, encodeJoinToken, type JoinToken } from '../../src/assist/join-token.js'
import { edgeConfig } from '../../src/cli/edge.js'

const token: JoinToken = {
  community: 'assist-1',
  key: 'k'.repeat(32),
  supernodes: [
    { host: '203.0.113.5', port: 7654, ports: [7654, 443, 53] },
    { host: '2001:db8::5', port: 7654 },
  ],
  expiresAt: 1_900_000_000_000,
  deviceIp: null,
}
const raw = (json: object): string => 'ovl1.' + Buffer.from(JSON.stringify(json)).toString('base64url')
const entries = (text: string): unknown => (JSON.parse(Buffer.from(text.slice(5), 'base64url').toString()) as { s: unknown }).s

t.test('every port of a supernode goes through the token and comes back', (t) => {
  const text = encodeJoinToken(token)
  t.same(entries(text), ['203.0.113.5:7654,443,53', '[2001:db8::5]:7654'], 'written as -l takes them')
  const back = decodeJoinToken(text).supernodes
  t.same(back[0], { host: '203.0.113.5', port: 7654, ports: [7654, 443, 53] })
  t.same(back[1], { host: '2001:db8::5', port: 7654, ports: [7654] })
  t.end()
})

t.test('a token of one port per supernode (as older services wrote them) reads as before', (t) => {
  t.same(decodeJoinToken(raw({ c: 'a', k: 'k', s: ['203.0.113.5:7654'], e: 1 })).supernodes, [{ host: '203.0.113.5', port: 7654, ports: [7654] }])
  t.end()
})

t.test('a supernode address without a port, with port 0 or a port listed twice is refused', (t) => {
  for (const s of ['203.0.113.5', '203.0.113.5:0', '203.0.113.5:7654,7654', 'a b:7654']) {
    t.throws(() => decodeJoinToken(raw({ c: 'a', k: 'k', s: [s], e: 1 })), /the join token has a bad supernode address/, s)
  }
  t.end()
})

t.test('edge --join tries every port the token lists', (t) => {
  const base = { device: 'ovl0', mtu: 1390, port: 0, mgmt: 'off', 'relay-only': false, 'log-level': 'info' }
  const config = edgeConfig({ ...base, join: encodeJoinToken({ ...token, expiresAt: Date.now() + 60_000 }) }, {})
  t.same(config.supernodes[0]!.ports, [7654, 443, 53])
  t.same(config.supernodes[1]!.ports, [7654])
  t.end()
})
