// A technician without root (issue 16), in network namespaces: `overlan edge --userspace` as uid
// 65534 with no capabilities, behind a cone NAT (test/fixtures/userspace-lab.ts); real curl through
// its --forward and through `curl --socks5-hostname` reaches an HTTP server on the device over the
// direct path (a 4 MiB file, SHA-256 equal); a port the device's --allow does not list is refused,
// counted and reported to curl. Real ssh and scp (openssh) carry 4 MiB each way through a --forward
// to an sshd on the device over the direct path (64 MiB each under npm run soak). With loss:
// lab/userspace-lossy-paths and lab/userspace-lossy-fallback.
import t from 'tap'
import { waitFor } from '../fixtures/lab.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'
import { DEVICE_IP, HTTP_PORT, SSH_BYTES, SSH_MIB, curl, reaches, setup, sshAndScp } from '../fixtures/userspace-lab.js'

t.test('a technician as uid 65534 without capabilities reaches the device by curl, over the direct path', async (t) => {
  if (skipUnlessRoot(t, 'network namespaces and a process switched to uid 65534')) return
  const s = await setup(t, 'direct')
  const direct = await waitFor('a direct path', async () => ((await s.techStatus()).peers.find((p) => p.ip === DEVICE_IP)?.path === 'direct' ? true : undefined), 20_000)
  await reaches(t, s, 'direct')
  t.equal((await s.techStatus()).peers.find((p) => p.ip === DEVICE_IP)?.path, 'direct', `the path is direct (${direct.ok ? 'went direct' : 'not direct in 20 s'})`)

  const refused = await curl(s, ['--socks5-hostname', '127.0.0.1:1080', 'http://device.overlan:22/'])
  t.not(refused.code, 0, `a port --allow does not list: curl fails (${refused.error})`)
  t.match(refused.error, /not allowed|SOCKS5/i, 'with the SOCKS5 refusal')
  const other = await curl(s, ['--socks5-hostname', '127.0.0.1:1080', `http://10.9.0.99:${HTTP_PORT}/`])
  t.not(other.code, 0, `another overlay address: refused on the technician's side (${other.error})`)
  const viaForward = await curl(s, ['http://127.0.0.1:2222/'])
  t.not(viaForward.code, 0, `--forward to that port: the connection ends (${viaForward.error})`)
  const device = await s.deviceStatus()
  t.ok((device.streams?.counters.refused['port-not-allowed'] ?? 0) >= 2, `the device counted port-not-allowed (${device.streams?.counters.refused['port-not-allowed']})`)
  t.ok((device.streams?.counters.closed ?? 0) >= 2, `and the streams it carried (${device.streams?.counters.closed} closed, ${device.streams?.counters.bytesToPeers} B to the technician)`)
})

t.test(`ssh and scp (openssh) carry ${SSH_MIB} MiB each way through a --forward, SHA-256 equal`, async (t) => {
  if (skipUnlessRoot(t, 'network namespaces, an sshd and a process switched to uid 65534')) return
  const s = await setup(t, 'direct')
  await sshAndScp(t, s, 'direct', SSH_BYTES)
})
