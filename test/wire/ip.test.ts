// IP text <-> bytes: every form Node accepts goes in, RFC 5952 text comes out.
import t from 'tap'
import { formatIPv4, formatIPv6, ipFamily, writeIPv4, writeIPv6 } from '../../src/wire/index.js'

t.test('IPv6 forms normalise to RFC 5952', (t) => {
  const cases: [string, string][] = [
    ['::', '::'],
    ['::1', '::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:0:3:4:5:6:7:8', '1:0:3:4:5:6:7:8'],
    ['fd00::', 'fd00::'],
  ]
  for (const [input, expected] of cases) {
    const buf = Buffer.alloc(16)
    writeIPv6(input, buf, 0)
    t.equal(formatIPv6(buf, 0), expected, input)
  }
  t.end()
})

t.test('IPv4 round trip and family detection', (t) => {
  const buf = Buffer.alloc(4)
  writeIPv4('203.0.113.255', buf, 0)
  t.same([...buf], [203, 0, 113, 255])
  t.equal(formatIPv4(buf, 0), '203.0.113.255')
  t.equal(ipFamily('10.0.0.1'), 4)
  t.equal(ipFamily('fe80::1'), 6)
  t.equal(ipFamily('example.com'), null)
  t.end()
})
