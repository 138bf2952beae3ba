// `overlan netcheck` in the NAT lab, as a user runs it on a device: a supernode with two UDP ports
// (7654, 3478) and a TLS WebSocket on TCP 443 whose certificate a private CA made by the test
// signed. From a public host, behind a cone NAT, behind a symmetric NAT, behind the cone NAT with
// all UDP dropped in its router (TLS works), and with TCP 443 dropped too (nothing works): the
// sentences each case gives, the JSON fields behind them and the exit code.
import t from 'tap'
import { natLab, SUPERNODE_IP, SUPERNODE_PORT, SUPERNODE_TLS_PORT, tlsSupernodeArgs, type NatLab, type Site } from '../fixtures/lab.js'
import { makePrivateCa } from '../fixtures/private-ca.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const SECOND_UDP_PORT = 3478
/** the lab supernode's TLS port is 443 (SUPERNODE_TLS_PORT), the URL's default */
const FALLBACK = `wss://${SUPERNODE_IP}/overlan`

t.test('netcheck from a public host, a cone NAT, a symmetric NAT, UDP blocked, everything blocked', async (t) => {
  if (skipUnlessRoot(t, "netcheck's sentences in the NAT lab")) return
  const ca = makePrivateCa(t, [SUPERNODE_IP])
  const lab = await natLab(t)
  const cone = await lab.addNatSite('cone')
  const symmetric = await lab.addNatSite('symmetric')
  const publicHost = await lab.addPublicHost()
  await lab.startSupernode(['-p', String(SECOND_UDP_PORT), ...tlsSupernodeArgs(ca)])
  const check = (site: Site): ReturnType<NatLab['netcheck']> =>
    lab.netcheck(site.ns, ['-l', `${SUPERNODE_IP}:${SUPERNODE_PORT},${SECOND_UDP_PORT}`, '--fallback', FALLBACK, '--ca-file', ca.caFile])

  t.test('public host: UDP open on both ports, no NAT, HTTPS works too', async (t) => {
    const { code, report, output } = await check(publicHost)
    t.equal(code, 0, output)
    t.comment(`public host:\n${report?.sentences.join('\n')}`)
    t.match(report, { udp: { reachable: true }, tls: { reachable: true }, nat: { mapping: 'endpoint-independent', behindNat: false, portPreserved: true }, canConnect: true })
    t.match(report?.ports, [{ port: SUPERNODE_PORT, reachable: true, publicEndpoint: new RegExp(`^${publicHost.ip}:`) }, { port: SECOND_UDP_PORT, reachable: true }])
    t.match(report?.sentences[0], new RegExp(`^UDP to the supernode ${SUPERNODE_IP} works on ports ${SUPERNODE_PORT} and ${SECOND_UDP_PORT} \\(`))
    t.match(report?.sentences[1], /^HTTPS on port 443 works too \(/)
    t.ok(report?.sentences.includes('This device is not behind NAT (the supernode sees its own address): direct connections will work.'))
    t.match(report?.sentences.at(-1), /^This device's clock agrees with the supernode's/)
  })

  t.test('cone NAT: easy NAT, the port kept', async (t) => {
    const { code, report, output } = await check(cone)
    t.equal(code, 0, output)
    t.comment(`cone NAT:\n${report?.sentences.join('\n')}`)
    t.match(report, { nat: { mapping: 'endpoint-independent', behindNat: true, portPreserved: true, destinations: 2 } })
    t.match(report?.nat.publicEndpoints, [new RegExp(`^${cone.publicIp}:\\d+$`)])
    t.ok(report?.sentences.includes('Your NAT keeps the same public port for every destination (easy NAT): direct connections will work.'))
    t.ok(report?.sentences.includes(`Your NAT keeps this device's own UDP port (${report.nat.localPort}) on the outside.`))
  })

  t.test('symmetric NAT: hard NAT, a new port per destination', async (t) => {
    const { code, report, output } = await check(symmetric)
    t.equal(code, 0, output)
    t.comment(`symmetric NAT:\n${report?.sentences.join('\n')}`)
    t.match(report, { nat: { mapping: 'endpoint-dependent', behindNat: true, portPreserved: false, destinations: 2 } })
    t.equal(report?.nat.publicEndpoints.length, 2, `two public endpoints: ${report?.nat.publicEndpoints.join(', ')}`)
    t.ok(report?.sentences.some((s) => s.startsWith('Your NAT gives each destination a different public port (hard, symmetric NAT): direct connections need birthday punching')))
  })

  t.test('UDP dropped at the cone NAT: HTTPS on 443 works, overlan will connect through it', async (t) => {
    await lab.dropForward(cone, ['-p', 'udp'])
    const { code, report, output } = await check(cone)
    t.equal(code, 0, `still exit 0: overlan can connect (${output.slice(0, 200)})`)
    t.comment(`UDP blocked:\n${report?.sentences.join('\n')}`)
    t.match(report, { udp: { reachable: false, rttMs: null }, tls: { reachable: true, url: `${FALLBACK}` }, nat: { mapping: 'unknown' }, canConnect: true })
    t.match(report?.sentences[0], /^UDP is blocked on this network; HTTPS on port 443 works \(\d+ ms\): overlan will connect through it, slower\.$/)
    t.equal(report?.sentences[1], `No supernode answers over UDP (${SUPERNODE_IP} ports ${SUPERNODE_PORT} and ${SECOND_UDP_PORT}).`)
    t.ok(report?.clockSkewMs !== null, 'the clock is still checked, over the fallback')
  })

  t.test('UDP and TCP 443 dropped: overlan cannot connect, exit 6', async (t) => {
    await lab.dropForward(cone, ['-p', 'tcp', '--dport', String(SUPERNODE_TLS_PORT)])
    const { code, report } = await check(cone)
    t.equal(code, 6, 'exit 6: no way works')
    t.comment(`everything blocked:\n${report?.sentences.join('\n')}`)
    t.match(report, { udp: { reachable: false }, tls: { reachable: false }, canConnect: false })
    t.match(report?.sentences[0], /^overlan cannot connect from this network: no supernode answers over UDP \(.+\), and HTTPS on port 443 does not work either \(.+\)\.$/)
    t.equal(report?.sentences[1], `Ask this network's administrator to allow outgoing UDP to ${SUPERNODE_IP} port ${SUPERNODE_PORT}, or HTTPS to ${SUPERNODE_IP}, or try another network.`)
  })
})
