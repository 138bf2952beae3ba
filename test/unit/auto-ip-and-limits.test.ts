// Auto-IP arithmetic, token buckets and the bounded rate limiter, the manual clock.
import t from 'tap'
import { defaultSubnet, inSubnet, ipv4ToNumber, numberToIpv4, parseSubnet, pickAddress } from '../../src/supernode/auto-ip.js'
import { RateLimiter, TokenBucket } from '../../src/supernode/rate-limit.js'
import { ManualClock } from '../../src/time/manual-clock.js'

t.test('auto-IP: deterministic, skips taken, never network or broadcast', (t) => {
  const subnet = parseSubnet('10.9.0.0/29')
  const taken = new Set<number>()
  const picked: string[] = []
  for (let i = 0; i < 6; i++) {
    const ip = pickAddress(subnet, 12345, (x) => taken.has(x))
    t.not(ip, null)
    taken.add(ip!)
    picked.push(numberToIpv4(ip!))
  }
  t.same(new Set(picked), new Set(['10.9.0.1', '10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']), 'all six hosts of a /29')
  t.equal(pickAddress(subnet, 12345, (x) => taken.has(x)), null, 'full')
  t.equal(pickAddress(subnet, 777, () => false), pickAddress(subnet, 777, () => false), 'same edge, same address')
  const range = parseSubnet('10.128.0.0/9')
  const a = defaultSubnet(range, Buffer.from('00000001', 'hex'))
  t.equal(a.prefix, 24)
  t.ok(inSubnet(a.network, range))
  t.equal(numberToIpv4(ipv4ToNumber('192.168.7.9')), '192.168.7.9')
  t.throws(() => parseSubnet('10.0.0.0/31'), RangeError)
  t.throws(() => parseSubnet('banana'), RangeError)
  t.end()
})

t.test('token bucket and bounded limiter', (t) => {
  const bucket = new TokenBucket(10, 5, 0)
  let allowed = 0
  for (let i = 0; i < 20; i++) if (bucket.take(0)) allowed++
  t.equal(allowed, 5, 'the burst, then nothing')
  t.ok(bucket.take(100), 'one token back after 100 ms at 10/s')
  t.notOk(bucket.take(100))
  const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, 3)
  for (const key of ['a', 'b', 'c', 'd', 'e']) limiter.allow(key, 0)
  t.ok(limiter.size <= 3, `never more than 3 keys (${limiter.size})`)
  t.end()
})

t.test('manual clock: timers fire in order when time moves, not before', async (t) => {
  const clock = new ManualClock(0)
  const fired: string[] = []
  clock.after(100, () => fired.push('after100'))
  const every = clock.every(40, () => fired.push(`every@${clock.now()}`))
  const cancelled = clock.after(50, () => fired.push('cancelled'))
  cancelled.cancel()
  await clock.advance(99, 10)
  t.same(fired, ['every@40', 'every@80'])
  clock.jump(1)
  t.same(fired, ['every@40', 'every@80', 'after100'])
  every.cancel()
  clock.jump(1000)
  t.equal(fired.length, 3)
  t.equal(clock.pendingTimers, 0)
})
