// A technician without root (issue 16) over lossy underlays: `overlan edge --userspace` as uid
// 65534 (test/fixtures/userspace-lab.ts), curl through its --forward and through SOCKS5 fetch the
// device's 4 MiB file, SHA-256 equal, over the direct path and over the relay, each with 5 % of
// the technician's underlay lost (the userspace impairment, 5 ± 2 ms delay); the throughput printed.
import t from 'tap'
import { totals, impairWan } from '../fixtures/impair.js'
import { waitFor } from '../fixtures/lab.js'
import { mbits } from '../fixtures/lab-http.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'
import { DEVICE_IP, reaches, setup } from '../fixtures/userspace-lab.js'

t.test('over the direct path, with 5 % of the technician underlay lost', async (t) => {
  if (skipUnlessRoot(t, 'network namespaces, a userspace impairment and a process switched to uid 65534')) return
  const s = await setup(t, 'direct')
  const direct = await waitFor('a direct path', async () => ((await s.techStatus()).peers.find((p) => p.ip === DEVICE_IP)?.path === 'direct' ? true : undefined), 30_000)
  t.ok(direct.ok, 'the path went direct')
  // spliced in once the path is direct: splicing cuts the link for as long as the impairment takes
  // to start (seconds on a busy machine), and punching through that outage is not what is tested here
  const impairment = await impairWan(s.lab, s.techSite, { loss: 0.05, delayMs: 5, jitterMs: 2, seed: 15 })
  // a bound, not a claim: should the outage have sent the path to the relay, punching is retried within 30 s
  const again = await waitFor('direct through the lossy underlay', async () => ((await s.techStatus()).peers.find((p) => p.ip === DEVICE_IP)?.path === 'direct' ? true : undefined), 45_000)
  t.ok(again.ok, 'direct through the lossy underlay before the transfers')
  const { forwardMs, socksMs } = await reaches(t, s, 'direct, 5 % loss')
  t.comment(`4 MiB over the direct path with 5 % loss on the technician's underlay: ${mbits(forwardMs)} Mbit/s through --forward, ${mbits(socksMs)} Mbit/s through SOCKS5`)
  t.equal((await s.techStatus()).peers.find((p) => p.ip === DEVICE_IP)?.path, 'direct', 'still direct after the transfers through the lossy underlay')
  const lost = totals(await impairment.counters())
  t.ok(lost.lost > 50, `the technician's underlay lost frames (${lost.lost} of ${lost.frames})`)
})

t.test('over the relay, with 5 % of the technician underlay lost', async (t) => {
  if (skipUnlessRoot(t, 'network namespaces, a userspace impairment and a process switched to uid 65534')) return
  const s = await setup(t, 'relay')
  const impairment = await impairWan(s.lab, s.techSite, { loss: 0.05, delayMs: 5, jitterMs: 2, seed: 16 })
  const { forwardMs, socksMs } = await reaches(t, s, 'relay, 5 % loss')
  t.comment(`4 MiB over the UDP relay with 5 % loss on the technician's underlay: ${mbits(forwardMs)} Mbit/s through --forward, ${mbits(socksMs)} Mbit/s through SOCKS5`)
  t.equal((await s.techStatus()).peers.find((p) => p.ip === DEVICE_IP)?.path, 'relay', 'the path is the relay')
  const lost = totals(await impairment.counters())
  t.ok(lost.lost > 50, `the underlay lost frames (${lost.lost} of ${lost.frames})`)
})
