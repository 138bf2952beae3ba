// netcheck against real supernodes on 127.0.0.1, in process: every port is asked from one socket,
// the ones that answer say so with their round trip, a silent port is named, and two destinations
// that see the same endpoint (our own: no NAT on loopback) make the mapping endpoint-independent.
import t from 'tap'
import { runNetcheck, type NetcheckDeps } from '../../src/netcheck/netcheck.js'
import { Supernode } from '../../src/supernode/supernode.js'
import { silentUdpPort } from '../fixtures/free-port.js'

const lookup: NetcheckDeps['lookup'] = (host) => Promise.resolve([{ address: host, family: host.includes(':') ? 6 : 4 }])
/** a host without IPv6 and without a fallback: the UDP parts alone */
const udpOnly: NetcheckDeps = { probeTls: () => Promise.resolve({ ok: false, error: 'not asked', proxy: null }), lookup, interfaces: () => ({ lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true, netmask: '255.0.0.0', mac: '', cidr: null }] }) }

t.test('two supernodes and a silent port on loopback: reachable ports, RTT, no NAT, endpoint-independent', async (t) => {
  const a = await Supernode.start({ port: 0, bindAddress: '127.0.0.1', mgmt: null })
  const b = await Supernode.start({ port: 0, bindAddress: '127.0.0.1', mgmt: null })
  t.teardown(() => Promise.all([a.stop(), b.stop()]))
  const silent = await silentUdpPort(t)
  const report = await runNetcheck({ supernodes: [{ host: '127.0.0.1', ports: [a.port, b.port, silent] }], fallbacks: [], timeoutMs: 1_500 }, udpOnly)
  t.match(report.udp, { reachable: true, rttMs: Number })
  t.match(report.ports, [
    { port: a.port, reachable: true, rttMs: Number, publicEndpoint: /^127\.0\.0\.1:\d+$/ },
    { port: b.port, reachable: true, rttMs: Number, publicEndpoint: /^127\.0\.0\.1:\d+$/ },
    { port: silent, reachable: false, rttMs: null, error: 'no answer within 1500 ms' },
  ])
  t.equal(report.ports[0]!.publicEndpoint, report.ports[1]!.publicEndpoint, 'both supernodes saw the same local socket')
  t.match(report.nat, { mapping: 'endpoint-independent', behindNat: false, portPreserved: true, destinations: 2 })
  t.equal(report.nat.publicEndpoints[0], `127.0.0.1:${report.nat.localPort}`, 'the endpoint seen is our own socket')
  t.equal(report.canConnect, true)
  t.match(report.sentences[0], new RegExp(`^UDP to the supernode 127\\.0\\.0\\.1 works on ports ${a.port} and ${b.port} \\((under 1|\\d+) ms\\); port ${silent} gets no answer\\.$`))
  t.ok(report.sentences.includes('This device is not behind NAT (the supernode sees its own address): direct connections will work.'))
  t.comment(report.sentences.join('\n'))
})

t.test('nothing answers and no fallback: cannot connect, and it says so', async (t) => {
  const silent = await silentUdpPort(t)
  const report = await runNetcheck({ supernodes: [{ host: '127.0.0.1', ports: [silent] }], fallbacks: [], timeoutMs: 600 }, udpOnly)
  t.equal(report.canConnect, false)
  t.match(report.nat, { mapping: 'unknown', behindNat: null })
  t.equal(report.sentences[0], `overlan cannot connect from this network: no supernode answers over UDP (127.0.0.1 port ${silent}), and no HTTPS fallback was given (--fallback).`)
})

t.test('a name that does not resolve is named in the port result', async (t) => {
  const report = await runNetcheck({ supernodes: [{ host: 'nowhere.invalid', ports: [7654] }], fallbacks: [], timeoutMs: 300 }, { ...udpOnly, lookup: () => Promise.reject(new Error('ENOTFOUND')) })
  t.match(report.ports, [{ supernode: 'nowhere.invalid', reachable: false, error: 'cannot resolve nowhere.invalid' }])
})

t.test('IPv6: a host with a global address asks the supernode over IPv6 too (::1 here) and says it answers', async (t) => {
  const sn = await Supernode.start({ port: 0, bindAddress: '::', mgmt: null })
  t.teardown(() => sn.stop())
  const dualStack: NetcheckDeps = {
    ...udpOnly,
    // the name has both records; the host has a global IPv6 address (a documentation prefix: never sent to)
    lookup: () => Promise.resolve([{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]),
    interfaces: () => ({ eth0: [{ address: '2001:db8::5', family: 'IPv6', internal: false, netmask: 'ffff:ffff:ffff:ffff::', mac: '', cidr: null, scopeid: 0 }] }),
  }
  const report = await runNetcheck({ supernodes: [{ host: 'sn.test', ports: [sn.port] }], fallbacks: [], timeoutMs: 1_500 }, dualStack)
  t.match(report.ipv6, { hasGlobalAddress: true, tested: true, reachable: true, rttMs: Number })
  t.match(report.ports, [{ supernode: 'sn.test', reachable: true, publicEndpoint: /^127\.0\.0\.1:\d+$/ }], 'the port results are over IPv4')
  t.ok(report.sentences.some((s) => /^This device has IPv6 and reaches the supernode over it \((under 1|\d+) ms\)\.$/.test(s)), report.sentences.join(' | '))
})

t.test('a supernode known only by an IPv6 address is asked over IPv6', async (t) => {
  const sn = await Supernode.start({ port: 0, bindAddress: '::1', mgmt: null })
  t.teardown(() => sn.stop())
  const report = await runNetcheck({ supernodes: [{ host: '::1', ports: [sn.port] }], fallbacks: [], timeoutMs: 1_500 }, { ...udpOnly, interfaces: () => ({ lo: [{ address: '::1', family: 'IPv6', internal: true, netmask: '', mac: '', cidr: null, scopeid: 0 }] }) })
  t.match(report.ports, [{ supernode: '::1', reachable: true, publicEndpoint: /^\[::1\]:\d+$/ }])
  t.match(report.nat, { behindNat: false, mapping: 'endpoint-independent' })
  t.match(report.ipv6, { hasGlobalAddress: false, tested: false })
})
