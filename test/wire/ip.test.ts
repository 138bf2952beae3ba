// IP text <-> bytes: every form Node accepts goes in, RFC 5952 text comes out.
import t from 'tap'
import { formatIPv4, formatIPv6, ipFamily, ipv6Prefix64, writeIPv4, writeIPv6 } from '../../src/wire/index.js'
import { sourceKeyOf } from '../../src/supernode/sources.js'
import { prng } from '../fixtures/prng.js'

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

t.test('the /64 of an IPv6 address: the key every host of one /64 is counted under', (t) => {
  t.equal(ipv6Prefix64('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64')
  t.equal(ipv6Prefix64('2001:db8:1:2::1'), ipv6Prefix64('2001:db8:1:2:ffff:ffff:ffff:ffff'), 'two hosts of one /64: one key')
  t.not(ipv6Prefix64('2001:db8:1:2::1'), ipv6Prefix64('2001:db8:1:3::1'), 'the next /64: another')
  t.equal(ipv6Prefix64('::1'), '0:0:0:0::/64')
  t.equal(ipv6Prefix64('2001:db8::'), '2001:db8:0:0::/64')
  t.equal(ipv6Prefix64('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64', 'embedded IPv4 lies beyond the /64')
  t.equal(ipv6Prefix64('1:2:3:4:5:6:192.0.2.1'), '1:2:3:4::/64')
  t.equal(ipv6Prefix64('fe80::1%eth0'), 'fe80:0:0:0::/64%eth0', 'link-local keeps its zone: two links, two keys')
  t.equal(sourceKeyOf('192.0.2.7'), '192.0.2.7', 'IPv4: the address itself')
  t.equal(sourceKeyOf('2001:db8:1:2::7'), '2001:db8:1:2::/64')
  // every text form the kernel gives (RFC 5952) against the byte-level parser
  const random = prng(64)
  const bytes = Buffer.alloc(16)
  let checked = 0
  for (let i = 0; i < 20_000; i++) {
    for (let j = 0; j < 16; j++) bytes[j] = random() < 0.4 ? 0 : Math.floor(random() * 256)
    const text = formatIPv6(bytes, 0)
    const words = [0, 1, 2, 3].map((w) => bytes.readUInt16BE(w * 2).toString(16))
    if (ipv6Prefix64(text) !== `${words.join(':')}::/64`) return t.fail(`${text}: ${ipv6Prefix64(text)}`)
    checked++
  }
  t.equal(checked, 20_000, 'random addresses (40 % zero bytes, so that "::" lands everywhere) give their first 64 bits')
  t.end()
})
