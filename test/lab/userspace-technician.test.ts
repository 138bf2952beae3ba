// A technician without root (issue 16), in network namespaces: `overlan edge --userspace` as uid
// 65534 with no capabilities, behind a cone NAT; real curl through its --forward and through
// `curl --socks5-hostname` reaches an HTTP server on the device (a 4 MiB file, SHA-256 equal);
// a port the device's --allow does not list is refused, counted and reported to curl; over the
// direct path, then over the direct path and over the relay each with 5 % of the technician's
// underlay lost; over the TLS fallback (the technician's NAT drops all UDP) with 5 % of the device's
// underlay lost, the throughput printed. Real ssh and scp (openssh) carry 4 MiB each way through a
// --forward to an sshd on the device over the direct path, 1 MiB each way over the relay with 5 %
// loss (64 MiB each under npm run soak).
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { impairWan, totals } from '../fixtures/impair.js'
import { SUPERNODE_FALLBACK_URL, SUPERNODE_IP, SUPERNODE_PORT, natLab, tlsSupernodeArgs, waitFor, type LabEdgeStatus, type NatLab, type Site } from '../fixtures/lab.js'
import { curlSha, mbits, startFileServer, type CurlResult } from '../fixtures/lab-http.js'
import { makePrivateCa } from '../fixtures/private-ca.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'
import { asNobody, checkUnprivileged, nobodyDir, readableCopy } from '../fixtures/unprivileged.js'

const BIN = fileURLToPath(new URL('../../bin/overlan.js', import.meta.url))
const DEVICE_IP = '10.9.0.2'
const HTTP_PORT = 8080
/** the device's sshd (its own port, a throwaway host key, one authorized key) */
const SSH_PORT = 2200

interface Setup {
  lab: NatLab
  deviceSite: Site
  techSite: Site
  sha: string
  deviceStatus(): Promise<LabEdgeStatus>
  techStatus(): Promise<LabEdgeStatus>
}

/**
 * direct: the device a public host; relay: the same, --relay-only; tls: the device behind a cone NAT
 * (its underlay can be impaired), the technician's NAT dropping all UDP, and its --fallback to the
 * supernode's TLS WebSocket (a CA the test made, readable by uid 65534).
 */
type Way = 'direct' | 'relay' | 'tls'

async function setup(t: Test, way: Way): Promise<Setup> {
  const lab = await natLab(t)
  const deviceSite = way === 'tls' ? await lab.addNatSite('cone') : await lab.addPublicHost()
  const techSite = await lab.addNatSite('cone')
  const fallbackArgs: string[] = []
  if (way === 'tls') {
    const ca = makePrivateCa(t, [SUPERNODE_IP])
    await lab.startSupernode(tlsSupernodeArgs(ca))
    await lab.dropForward(techSite, ['-p', 'udp'])
    fallbackArgs.push('--fallback', SUPERNODE_FALLBACK_URL, '--ca-file', readableCopy(nobodyDir(t), ca.caFile))
  } else {
    await lab.startSupernode()
  }
  const sha = await startFileServer(lab, deviceSite.ns, HTTP_PORT)
  const device = lab.startEdge(deviceSite, { address: `${DEVICE_IP}/24`, allow: `tcp/${HTTP_PORT},tcp/${SSH_PORT}`, name: 'device', extraArgs: ['--accept-streams'] }, 'device')
  t.ok((await device.waitRegistered(30_000)).ok, 'device registered')
  const args = ['edge', '-c', 'lab', '-l', `${SUPERNODE_IP}:${SUPERNODE_PORT}`, '--name', 'anna']
  args.push('--userspace', '--target', DEVICE_IP, '--forward', `${HTTP_PORT}:${HTTP_PORT}`, '--forward', '2222:22', '--forward', `${SSH_PORT}:${SSH_PORT}`, '--socks5', '127.0.0.1:1080', '--device-name', `device.overlan=${DEVICE_IP}`, '--mgmt', '127.0.0.1:5644')
  if (way === 'relay') args.push('--relay-only')
  args.push(...fallbackArgs)
  const tech = lab.spawn('technician', techSite.ns, 'setpriv', asNobody(process.execPath, [BIN, ...args]), lab.edgeEnv({ address: '' }))
  t.ok((await tech.waitForLine(/socks5 127\.0\.0\.1:1080/, 30_000)) !== null, `the technician's listeners are up (${tech.lines.filter((l) => / (forward|socks5) /.test(l)).length} lines)`)
  checkUnprivileged(t, tech.pid, 'the technician')
  const techStatus = (): Promise<LabEdgeStatus> => lab.getJson<LabEdgeStatus>(techSite.ns, 'http://127.0.0.1:5644/status')
  return { lab, deviceSite, techSite, sha, deviceStatus: () => device.status(), techStatus }
}

/** curl in the technician's namespace: the body's SHA-256, or its exit code and error. */
function curl(s: Setup, args: string[]): Promise<CurlResult> {
  return curlSha(s.lab, s.techSite.ns, args)
}

/** curl through --forward and through SOCKS5 fetch the device's file; returns the two transfers' times. */
async function reaches(t: Test, s: Setup, how: string): Promise<{ forwardMs: number; socksMs: number }> {
  const forward = await curl(s, [`http://127.0.0.1:${HTTP_PORT}/file`])
  t.equal(forward.sha, s.sha, `${how}: curl through --forward got the device's 4 MiB file, SHA-256 equal ${forward.error}`)
  const socks = await curl(s, ['--socks5-hostname', '127.0.0.1:1080', `http://device.overlan:${HTTP_PORT}/file`])
  t.equal(socks.sha, s.sha, `${how}: curl --socks5-hostname to device.overlan got it too ${socks.error}`)
  return { forwardMs: forward.ms, socksMs: socks.ms }
}

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

// 64 MiB each way took 4.9 s each way on a quiet machine (110 Mbit/s, 2026-12-01) and about 50 s on
// a loaded one: that is the soak variant (npm run soak); CI carries 4 MiB each way through the same
// ssh and scp
const SOAK = process.env.OVERLAN_SOAK !== undefined && process.env.OVERLAN_SOAK !== ''
const SSH_BYTES = (SOAK ? 64 : 4) * 1024 * 1024
const SSH_MIB = SSH_BYTES / 1024 / 1024
/** over the relay with 5 % loss a few Mbit/s at best: 1 MiB each way in CI keeps the file within tap's 300 s */
const LOSSY_SSH_BYTES = (SOAK ? 64 : 1) * 1024 * 1024
/** one scp may take this long: 64 MiB over the lossy relay runs at a few Mbit/s */
const SCP_TIMEOUT_MS = SOAK ? 900_000 : 120_000

/** An sshd on the device (its own port, a throwaway host key, one authorized key); ssh runs a command through the forward, then scp carries SSH_BYTES each way, SHA-256 checked. */
async function sshAndScp(t: Test, s: Setup, how: string, bytes: number): Promise<void> {
  const mib = bytes / 1024 / 1024
  if (!existsSync('/usr/sbin/sshd')) {
    t.fail('openssh-server is not installed (.ci/run installs it)')
    return
  }
  // sshd insists on its privilege separation directory (systemd makes it when sshd runs as a service)
  if (!existsSync('/run/sshd')) {
    mkdirSync('/run/sshd', { mode: 0o755 })
    t.teardown(() => rmSync('/run/sshd', { recursive: true, force: true }))
  }
  const dir = mkdtempSync(join(tmpdir(), 'overlan-ssh-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const key of ['host', 'client']) {
    const made = await s.lab.exec(s.deviceSite.ns, 'ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, key)])
    if (made.code !== 0) throw new Error(`ssh-keygen: ${made.stderr}`)
  }
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client.pub')))
  const config = [`Port ${SSH_PORT}`, `HostKey ${join(dir, 'host')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PidFile none', 'StrictModes no', 'UsePAM no',
    'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PermitRootLogin prohibit-password', 'Subsystem sftp internal-sftp']
  writeFileSync(join(dir, 'sshd_config'), config.join('\n') + '\n')
  const sshd = s.lab.spawn('sshd', s.deviceSite.ns, '/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')])
  t.ok((await sshd.waitForLine(/Server listening on 0\.0\.0\.0 port/, 15_000)) !== null, `sshd listens on the device (${sshd.lines.at(-1) ?? 'no output'})`)
  const ssh = ['-i', join(dir, 'client'), '-o', 'StrictHostKeyChecking=no', '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'BatchMode=yes']
  const whoami = await s.lab.exec(s.techSite.ns, 'ssh', [...ssh, '-p', String(SSH_PORT), 'root@127.0.0.1', 'cat /proc/sys/kernel/hostname; ip -4 -o addr show'], 30_000)
  t.match(whoami.stdout, new RegExp(`inet ${DEVICE_IP.replace(/\./g, '\\.')}/`), `${how}: ssh through the forward runs a command on the device (exit ${whoami.code}) ${whoami.stderr.trim()}`)

  const data = randomBytes(bytes)
  const sha = createHash('sha256').update(data).digest('hex')
  writeFileSync(join(dir, 'up'), data)
  const scp = [...ssh, '-P', String(SSH_PORT)]
  let started = Date.now()
  const up = await s.lab.exec(s.techSite.ns, 'scp', [...scp, join(dir, 'up'), `root@127.0.0.1:${join(dir, 'on-device')}`], SCP_TIMEOUT_MS)
  const upMs = Date.now() - started
  t.equal(up.code, 0, `${how}: scp to the device: exit 0 ${up.stderr.trim()}`)
  t.equal(fileSha(join(dir, 'on-device')), sha, `${how}: ${mib} MiB to the device, SHA-256 equal (${upMs} ms, ${((bytes * 8) / upMs / 1000).toFixed(1)} Mbit/s)`)
  started = Date.now()
  const down = await s.lab.exec(s.techSite.ns, 'scp', [...scp, `root@127.0.0.1:${join(dir, 'on-device')}`, join(dir, 'back')], SCP_TIMEOUT_MS)
  const downMs = Date.now() - started
  t.equal(down.code, 0, `${how}: scp from the device: exit 0 ${down.stderr.trim()}`)
  t.equal(fileSha(join(dir, 'back')), sha, `${how}: ${mib} MiB back from the device, SHA-256 equal (${downMs} ms, ${((bytes * 8) / downMs / 1000).toFixed(1)} Mbit/s)`)
}

/** The SHA-256 of a file, or 'missing' when scp did not write it. */
function fileSha(path: string): string {
  return existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : 'missing'
}

t.test(`ssh and scp (openssh) carry ${SSH_MIB} MiB each way through a --forward, SHA-256 equal`, async (t) => {
  if (skipUnlessRoot(t, 'network namespaces, an sshd and a process switched to uid 65534')) return
  const s = await setup(t, 'direct')
  await sshAndScp(t, s, 'direct', SSH_BYTES)
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
