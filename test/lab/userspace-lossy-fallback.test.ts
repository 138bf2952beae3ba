// A technician without root (issue 16), lossy and fallback: over the TLS fallback (the technician's
// NAT drops all UDP) with 5 % of the device's underlay lost, curl through --forward and SOCKS5 fetch
// the device's 4 MiB file, SHA-256 equal; ssh and scp (openssh) carry 1 MiB each way over the
// relay with 5 % of the technician's underlay lost (64 MiB under npm run soak). The lab:
// test/fixtures/userspace-lab.ts.
import t from 'tap'
import { totals, impairWan } from '../fixtures/impair.js'
import { waitFor } from '../fixtures/lab.js'
import { mbits } from '../fixtures/lab-http.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'
import { DEVICE_IP, LOSSY_SSH_BYTES, reaches, setup, sshAndScp } from '../fixtures/userspace-lab.js'

t.test("over the TLS fallback (the technician's NAT drops all UDP), with 5 % of the device's underlay lost", async (t) => {
  if (skipUnlessRoot(t, 'network namespaces, a UDP-blocking NAT, a userspace impairment and a process switched to uid 65534')) return
  const s = await setup(t, 'tls')
  const onTls = await waitFor('the technician registered over TLS', async () => {
    const link = (await s.techStatus()).supernodes[0]
    return link?.registered === true && link.transport === 'tls' ? true : undefined
  }, 20_000)
  t.ok(onTls.ok, `the technician registered over TLS (${onTls.ms} ms after its listeners were up)`)
  const impairment = await impairWan(s.lab, s.deviceSite, { loss: 0.05, delayMs: 5, jitterMs: 2, seed: 17 })
  const { forwardMs, socksMs } = await reaches(t, s, 'TLS fallback, 5 % loss at the device')
  t.comment(`4 MiB over the TLS fallback with 5 % loss on the device's UDP: ${mbits(forwardMs)} Mbit/s through --forward (${forwardMs} ms), ${mbits(socksMs)} Mbit/s through SOCKS5 (${socksMs} ms)`)
  const peer = (await s.techStatus()).peers.find((p) => p.ip === DEVICE_IP)
  t.equal(peer?.path, 'relay', 'the path is the relay')
  t.equal(peer?.via, 'tls', 'reached over the TLS fallback')
  t.equal((await s.techStatus()).supernodes[0]?.transport, 'tls', 'still on TLS: UDP stays blocked')
  const lost = totals(await impairment.counters())
  t.ok(lost.lost > 50, `the device's underlay lost frames (${lost.lost} of ${lost.frames})`)
})

t.test(`ssh and scp carry ${LOSSY_SSH_BYTES / 1024 / 1024} MiB each way over the relay with 5 % of the technician's underlay lost, SHA-256 equal`, async (t) => {
  if (skipUnlessRoot(t, 'network namespaces, a userspace impairment, an sshd and a process switched to uid 65534')) return
  const s = await setup(t, 'relay')
  const impairment = await impairWan(s.lab, s.techSite, { loss: 0.05, delayMs: 5, jitterMs: 2, seed: 22 })
  await sshAndScp(t, s, 'relay, 5 % loss', LOSSY_SSH_BYTES)
  t.equal((await s.techStatus()).peers.find((p) => p.ip === DEVICE_IP)?.path, 'relay', 'the path is the relay')
  const lost = totals(await impairment.counters())
  t.ok(lost.lost > 100, `the underlay lost frames all along (${lost.lost} of ${lost.frames})`)
})
