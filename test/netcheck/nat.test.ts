// The NAT classification from what different destinations saw of one local socket.
import t from 'tap'
import { classifyNat } from '../../src/netcheck/nat.js'
import { clockSkewMs } from '../../src/netcheck/skew.js'
import { hasGlobalIpv6 } from '../../src/netcheck/ipv6.js'

const local = new Set(['10.0.1.2', '127.0.0.1'])

t.test('the same public endpoint at two destinations is endpoint-independent, port kept', (t) => {
  const nat = classifyNat(5000, [
    { destination: '203.0.113.10:7654', address: '198.51.100.2', port: 5000 },
    { destination: '203.0.113.10:443', address: '198.51.100.2', port: 5000 },
  ], local)
  t.match(nat, { mapping: 'endpoint-independent', behindNat: true, portPreserved: true, destinations: 2, publicEndpoints: ['198.51.100.2:5000'] })
  t.end()
})

t.test('a different public port per destination is endpoint-dependent, port not kept', (t) => {
  const nat = classifyNat(5000, [
    { destination: '203.0.113.10:7654', address: '198.51.100.2', port: 31000 },
    { destination: '203.0.113.20:7654', address: '198.51.100.2', port: 42000 },
  ], local)
  t.match(nat, { mapping: 'endpoint-dependent', behindNat: true, portPreserved: false, publicEndpoints: ['198.51.100.2:31000', '198.51.100.2:42000'] })
  t.end()
})

t.test('one destination behind a NAT: unknown; seeing our own address: no NAT, endpoint-independent', (t) => {
  t.match(classifyNat(5000, [{ destination: 'a:1', address: '198.51.100.2', port: 6000 }], local), { mapping: 'unknown', behindNat: true, portPreserved: false })
  t.match(classifyNat(5000, [{ destination: 'a:1', address: '127.0.0.1', port: 5000 }], local), { mapping: 'endpoint-independent', behindNat: false, portPreserved: true })
  t.match(classifyNat(5000, [], local), { mapping: 'unknown', behindNat: null, portPreserved: null })
  t.end()
})

t.test('clock skew is taken at the middle of the round trip', (t) => {
  t.equal(clockSkewMs(1_000, 1_100, 1_050), 0)
  t.equal(clockSkewMs(1_000, 1_100, 61_050), 60_000, 'the supernode is a minute ahead')
  t.equal(clockSkewMs(1_000, 1_100, -8_950), -10_000, 'the supernode is ten seconds behind')
  t.end()
})

t.test('only 2000::/3 counts as a global IPv6 address', (t) => {
  const iface = (address: string) => ({ eth0: [{ address, family: 'IPv6' as const, internal: false, netmask: '', mac: '', cidr: null, scopeid: 0 }] })
  t.ok(hasGlobalIpv6(iface('2001:db8::1')))
  t.notOk(hasGlobalIpv6(iface('fe80::1')))
  t.notOk(hasGlobalIpv6(iface('fd00::1')))
  t.notOk(hasGlobalIpv6(iface('::1')))
  t.end()
})
