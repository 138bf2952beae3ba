// netcheck's sentences for each thing a network can do to overlan: UDP open or blocked, HTTPS
// working or not, easy or symmetric NAT, the port kept or changed, IPv6, and a wrong clock.
import t from 'tap'
import type { NetcheckReport, PortResult } from '../../src/netcheck/report.js'
import { CLOCK_SKEW_TOLERANCE_MS, netcheckSentences } from '../../src/netcheck/sentences.js'

const open = (port: number, rttMs: number, seen: string): PortResult => ({ supernode: 'sn.example', port, reachable: true, rttMs, publicEndpoint: seen })
const silent = (port: number): PortResult => ({ supernode: 'sn.example', port, reachable: false, rttMs: null, publicEndpoint: null, error: 'no answer within 2000 ms' })
const noTls = { tested: false, reachable: false, rttMs: null, url: null, proxy: null }
const tlsWorks = { tested: true, reachable: true, rttMs: 35, url: 'wss://sn.example/overlan', proxy: null }
const tlsFails = { tested: true, reachable: false, rttMs: null, url: 'wss://sn.example/overlan', proxy: null, error: 'connection refused' }
const noV6 = { hasGlobalAddress: false, tested: false, reachable: false, rttMs: null }

/** UDP open on 7654 and 443, behind an easy NAT that keeps the port, clock right, no IPv6. */
function base(): NetcheckReport {
  return {
    udp: { reachable: true, rttMs: 12 },
    ports: [open(7654, 12, '198.51.100.2:40000'), open(443, 14, '198.51.100.2:40000')],
    nat: { mapping: 'endpoint-independent', behindNat: true, portPreserved: true, localPort: 40000, publicEndpoints: ['198.51.100.2:40000'], destinations: 2 },
    tls: tlsWorks,
    ipv6: noV6,
    clockSkewMs: 300,
    canConnect: true,
  }
}

t.test('open UDP: each port that answers, with its round trip, and HTTPS as the spare way', (t) => {
  const s = netcheckSentences(base())
  t.equal(s[0], 'UDP to the supernode sn.example works on ports 7654 and 443 (12 ms).')
  t.equal(s[1], 'HTTPS on port 443 works too (35 ms): overlan can use it if UDP stops working.')
  t.ok(s.includes("This device's clock agrees with the supernode's (less than a second apart)."))
  t.ok(s.includes('This device has no global IPv6 address: overlan uses IPv4.'))
  t.end()
})

t.test('some ports silent: the ones that answer and the ones that do not', (t) => {
  const s = netcheckSentences({ ...base(), ports: [open(7654, 12, '198.51.100.2:40000'), silent(443), silent(53)] })
  t.equal(s[0], 'UDP to the supernode sn.example works on port 7654 (12 ms); ports 443 and 53 get no answer.')
  t.end()
})

t.test('open UDP without a fallback: says HTTPS was not tested', (t) => {
  const s = netcheckSentences({ ...base(), tls: noTls })
  t.match(s[1], /^No HTTPS fallback was given \(--fallback\), so it was not tested/)
  t.end()
})

t.test('open UDP, HTTPS failing: overlan uses UDP', (t) => {
  const s = netcheckSentences({ ...base(), tls: tlsFails })
  t.equal(s[1], 'HTTPS on port 443 does not work (connection refused); overlan uses UDP, which works.')
  t.end()
})

/** No answer over UDP on 7654: nothing known about the NAT; the rest as `base()` unless given. */
function udpBlocked(rest: Partial<NetcheckReport>): NetcheckReport {
  const nat: NetcheckReport['nat'] = { mapping: 'unknown', behindNat: null, portPreserved: null, localPort: 40000, publicEndpoints: [], destinations: 0 }
  return { ...base(), udp: { reachable: false, rttMs: null }, ports: [silent(7654)], nat, ...rest }
}

t.test('blocked UDP with HTTPS working: overlan connects through HTTPS, slower (and the proxy is named)', (t) => {
  const s = netcheckSentences(udpBlocked({ tls: { ...tlsWorks, proxy: 'proxy.example:3128' } }))
  t.equal(s[0], 'UDP is blocked on this network; HTTPS on port 443 works (35 ms) through the proxy proxy.example:3128: overlan will connect through it, slower.')
  t.equal(s[1], 'No supernode answers over UDP (sn.example port 7654).')
  t.notOk(s.some((x) => /NAT/.test(x)), 'nothing said about a NAT nobody could see')
  t.end()
})

t.test('everything blocked: cannot connect, and what to ask the administrator for', (t) => {
  const s = netcheckSentences(udpBlocked({ tls: tlsFails, clockSkewMs: null, canConnect: false }))
  t.equal(s[0], 'overlan cannot connect from this network: no supernode answers over UDP (sn.example port 7654), and HTTPS on port 443 does not work either (connection refused).')
  t.equal(s[1], "Ask this network's administrator to allow outgoing UDP to sn.example port 7654, or HTTPS to sn.example, or try another network.")
  t.notOk(s.some((x) => /clock/.test(x)), 'no clock sentence when nothing answered')
  t.end()
})

t.test('everything blocked without a fallback', (t) => {
  const s = netcheckSentences(udpBlocked({ tls: noTls, canConnect: false }))
  t.equal(s[0], 'overlan cannot connect from this network: no supernode answers over UDP (sn.example port 7654), and no HTTPS fallback was given (--fallback).')
  t.end()
})

t.test('cone NAT: easy, direct connections will work', (t) => {
  const s = netcheckSentences(base())
  t.ok(s.includes('Your NAT keeps the same public port for every destination (easy NAT): direct connections will work.'))
  t.end()
})

t.test('symmetric NAT: hard, birthday punching, may fall back to the relay', (t) => {
  const report = base()
  report.ports = [open(7654, 12, '198.51.100.2:51000'), open(443, 14, '198.51.100.2:62000')]
  report.nat = { mapping: 'endpoint-dependent', behindNat: true, portPreserved: false, localPort: 40000, publicEndpoints: ['198.51.100.2:51000', '198.51.100.2:62000'], destinations: 2 }
  const s = netcheckSentences(report)
  t.ok(s.includes('Your NAT gives each destination a different public port (hard, symmetric NAT): direct connections need birthday punching and may fall back to the relay through the supernode, which is slower.'))
  t.ok(s.includes("Your NAT changes this device's UDP port (40000 becomes 51000, 62000)."))
  t.end()
})

t.test('one destination: the kind of NAT is not known', (t) => {
  const report = base()
  report.ports = [open(7654, 12, '198.51.100.2:40000')]
  report.nat = { ...report.nat, mapping: 'unknown', destinations: 1 }
  const s = netcheckSentences(report)
  t.equal(s[0], 'UDP to the supernode sn.example works (12 ms).')
  t.ok(s.includes('Only one supernode port answered, so the kind of NAT is not known (two supernodes, or a supernode with two UDP ports, tell it).'))
  t.end()
})

t.test('port preserved or not', (t) => {
  t.ok(netcheckSentences(base()).includes("Your NAT keeps this device's own UDP port (40000) on the outside."))
  const changed = base()
  changed.nat = { ...changed.nat, portPreserved: false, publicEndpoints: ['198.51.100.2:1024'] }
  t.ok(netcheckSentences(changed).includes("Your NAT changes this device's UDP port (40000 becomes 1024)."))
  t.end()
})

t.test('no NAT: the supernode sees our own address', (t) => {
  const report = base()
  report.nat = { ...report.nat, behindNat: false }
  const s = netcheckSentences(report)
  t.ok(s.includes('This device is not behind NAT (the supernode sees its own address): direct connections will work.'))
  t.notOk(s.some((x) => /Your NAT/.test(x)))
  t.end()
})

t.test('clock skew: within the tolerance, beyond it ahead and behind, and not told', (t) => {
  const at = (clockSkewMs: number | null): string => netcheckSentences({ ...base(), clockSkewMs }).at(-1)!
  t.equal(at(CLOCK_SKEW_TOLERANCE_MS), "This device's clock agrees with the supernode's (30 s apart).")
  t.equal(at(-2_400), "This device's clock agrees with the supernode's (2.4 s apart).")
  t.equal(at(303_000), "This device's clock is 5 min 3 s behind the supernode's: set it right (turn on NTP), as certificates will need it.")
  t.equal(at(-7_800_000), "This device's clock is 2 h 10 min ahead of the supernode's: set it right (turn on NTP), as certificates will need it.")
  t.equal(at(-31_000), "This device's clock is 31 s ahead of the supernode's: set it right (turn on NTP), as certificates will need it.")
  t.equal(at(null), 'The supernode did not tell its time, so the clock was not checked.')
  t.end()
})

t.test('IPv6: working, silent, and not testable', (t) => {
  const v6 = (ipv6: NetcheckReport['ipv6']): string[] => netcheckSentences({ ...base(), ipv6 })
  t.ok(v6({ hasGlobalAddress: true, tested: true, reachable: true, rttMs: 14 }).includes('This device has IPv6 and reaches the supernode over it (14 ms).'))
  t.ok(v6({ hasGlobalAddress: true, tested: true, reachable: false, rttMs: null }).includes('This device has an IPv6 address but gets no answer from the supernode over IPv6: overlan uses IPv4.'))
  t.ok(v6({ hasGlobalAddress: true, tested: false, reachable: false, rttMs: null }).includes('This device has an IPv6 address, but the supernode has none, so IPv6 was not tested.'))
  t.end()
})
