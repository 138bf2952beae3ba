// A technician's `overlan edge --userspace` as a user runs it: the installed command, its C addons
// switched off (as on a host where they cannot be built), and, where the test runs as root, as
// uid 65534 without capabilities. It reaches a device's service through --forward byte for byte
// and never loads an addon; a TAP edge in the same setting fails with one line naming the fix.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { freeTcpPort } from '../fixtures/free-port.js'
import { overlan } from '../fixtures/overlan-cli.js'
import { startSupernode, until } from '../fixtures/overlay.js'
import { echoServer, roundTrip, sha256, streamPair } from '../fixtures/userspace.js'

const BIN = fileURLToPath(new URL('../../bin/overlan.js', import.meta.url))
const NOBODY = 65534
const START_MS = 30_000

t.test('a userspace technician without addons (and without root) reaches the device through --forward', async (t) => {
  const pair = await streamPair(t)
  pair.services.set(7, await echoServer(t))
  const sn = pair.device.edge.status().supernodes[0]!.address
  const local = await freeTcpPort()
  const asRoot = process.getuid?.() === 0
  const child = spawn(
    process.execPath,
    [BIN, 'edge', '-c', 'lab', '-k', 'secret', '-l', sn, '--mgmt', 'off', '--userspace', '--target', pair.deviceIp, '--forward', `${local}:7`],
    { env: { ...process.env, OVERLAN_NATIVE: 'off' }, stdio: ['ignore', 'ignore', 'pipe'], ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}) },
  )
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let log = ''
  child.stderr.on('data', (c: Buffer) => (log += c.toString()))
  await until('the forward listens', () => log.includes(`forward 127.0.0.1:${local} -> ${pair.deviceIp} port 7`) || child.exitCode !== null, START_MS)
  t.equal(child.exitCode, null, `the edge runs (${log.trim().split('\n').at(-1)})`)

  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
  if (asRoot) {
    t.match(status, new RegExp(`^Uid:\\s+${NOBODY}\\s`, 'm'), 'the technician runs as uid 65534')
    t.match(status, /^CapEff:\s+0+$/m, 'with no effective capabilities')
  } else t.comment('not root: the technician runs as this (unprivileged) user')
  const data = randomBytes(256 * 1024)
  const back = await roundTrip(local, data)
  t.equal(sha256(back), sha256(data), 'the device echoed every byte')
  const maps = readFileSync(`/proc/${child.pid}/maps`, 'utf8')
  t.notMatch(maps, /overlan_(tap|udp)\.node/, 'no C addon is loaded in the technician process')
  await until('the device audits the stream', () => pair.events.some((e) => e.event === 'closed'))
  t.equal(pair.events.find((e) => e.event === 'closed')!.bytesFromPeer, data.length, 'the device audited the bytes it got')
  child.kill('SIGTERM')
})

t.test('without its addon, a TAP edge fails with one line that names npm ci and --userspace', async (t) => {
  const sn = await startSupernode(t)
  process.env.OVERLAN_NATIVE = 'off'
  t.teardown(() => delete process.env.OVERLAN_NATIVE)
  const result = await overlan('edge', '-c', 'lab', '-k', 'secret', '-l', `127.0.0.1:${sn.port}`, '--mgmt', 'off', '-d', 'ovlnoaddon0')
  t.equal(result.code, 2, 'exit code 2: the device')
  t.match(result.stderr, /TAP addon is not built: run npm ci .*--userspace/, 'the error names the fix')
})

t.test('--userspace options are refused one line each when wrong', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--forward', '2222:22'], /--forward: only with --userspace/],
    [['--userspace'], /give at least one --forward/],
    [['--userspace', '--forward', '2222:22'], /--target IP/],
    [['--userspace', '--target', '10.9.0.1', '--forward', '2222'], /--forward: "2222" is not LOCAL:REMOTE/],
    [['--userspace', '--device-name', 'device.overlan', '--socks5', '127.0.0.1:1080'], /--device-name: "device.overlan" is not NAME=IPv4/],
  ]
  for (const [args, error] of cases) {
    const result = await overlan('edge', '-c', 'lab', '-k', 'secret', '-l', '127.0.0.1:9', '--mgmt', 'off', ...args)
    t.equal(result.code, 1, `${args.join(' ')}: usage error`)
    t.match(result.stderr, error, `${args.join(' ')}: names the option`)
  }
})
