// `overlan edge --join-file` as a technician runs it (the built CLI in a child process) against a
// real supernode and device edge in this process: it waits (the waiting line), and exits 3 within
// 5 s of the owner's Deny, before it ever opens a TAP device (so no root is needed). Bad tokens and
// unsafe ways of giving one get their one line.
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { encodeJoinToken, encodeJoinTokenV2, type JoinTokenV2 } from '../../src/assist/join-token.js'
import { generateAuthority, issueCertificate } from '../../src/crypto/certificate.js'
import { generateIdentity, seedOf } from '../../src/crypto/identity.js'
import { signReceipt } from '../../src/assist/receipt.js'
import type { EnrollmentAnswer, EnrollmentDecider, EnrollmentRequest } from '../../src/edge/enrollment.js'
import { JOIN_ON_COMMAND_LINE_WARNING, stoppedLine, waitingLine } from '../../src/cli/edge-join.js'
import { EXIT_DENIED, EXIT_SESSION_OVER, EXIT_USAGE } from '../../src/cli/errors.js'
import { mac } from '../fixtures/frames.js'
import { isRegistered, startEdge, startSupernode, until } from '../fixtures/overlay.js'

const bin = fileURLToPath(new URL('../../bin/overlan.js', import.meta.url))

function overlan(args: string[], env: NodeJS.ProcessEnv = {}, timeout = 30_000): Promise<{ code: number; stderr: string; endedAt: number }> {
  return new Promise((resolve) => {
    // a management port of its own: another edge of the test run may hold the default one
    execFile(process.execPath, [bin, 'edge', '--mgmt', 'off', ...args], { env: { PATH: process.env.PATH, ...env }, timeout }, (err, _stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1
      resolve({ code, stderr, endedAt: Date.now() })
    })
  })
}

const dir = mkdtempSync(join(tmpdir(), 'overlan-join-'))
function tokenFile(text: string, mode = 0o600): string {
  const file = join(dir, `token-${Math.random().toString(36).slice(2)}`)
  writeFileSync(file, `${text}\n`)
  chmodSync(file, mode)
  return file
}

t.test('waiting, then denied: the technician exits 3 within 5 s of the decision, with one line', async (t) => {
  const sn = await startSupernode(t)
  const authority = generateAuthority()
  const identity = generateIdentity()
  const deviceKey = Buffer.from(identity.publicKey)
  const nowS = Math.floor(Date.now() / 1000)
  const certificate = issueCertificate(authority, { role: 'device', serial: 1, notBefore: nowS - 60, notAfter: nowS + 3600, memberKey: deviceKey, mac: mac(0x42), ipv4: { address: '10.9.0.1', prefix: 24 }, ipv6: null, name: 'device' })
  let deniedAt = 0
  const seen: EnrollmentRequest[] = []
  const decider: EnrollmentDecider = {
    request(request): EnrollmentAnswer {
      seen.push(request)
      // the owner decides once the technician has waited through three polls
      if (seen.length < 3) return { state: 'waiting' }
      deniedAt ||= Date.now()
      return { state: 'denied' }
    },
    gone: () => {},
  }
  const secret = Buffer.alloc(32, 0x77)
  const device = await startEdge(t, [sn], { keys: undefined, identity, certificate, macByte: 0x42, overlay: { address: '10.9.0.1', prefix: 24 }, enrollment: { secret, decider } })
  await until('device registered', () => isRegistered(device))
  const token: JoinTokenV2 = {
    supernodes: [{ host: '127.0.0.1', port: sn.port }],
    fallbacks: [],
    authorityKey: authority.publicKey,
    deviceKey,
    deviceName: 'lab device',
    deviceIp: { address: '10.9.0.1', prefix: 24 },
    deviceHostName: 'device.overlan',
    expiresAt: (nowS + 3600) * 1000,
    enrollmentSecret: secret,
  }
  const result = await overlan(['--join-file', tokenFile(encodeJoinTokenV2(token)), '--name', 'Alice (ACME support)'])
  t.equal(result.code, EXIT_DENIED, `exit code ${EXIT_DENIED}`)
  t.match(result.stderr, waitingLine(0), 'the waiting line')
  t.match(result.stderr, "the device's owner denied the request")
  t.equal(seen[0]?.name, 'Alice (ACME support)', 'the device saw the name given')
  const ms = result.endedAt - deniedAt
  t.ok(deniedAt > 0 && ms <= 5_000, `exited ${ms} ms after the decision`)
  t.comment(`exit ${ms} ms after Deny`)
})

t.test('admitted with --userspace: no TAP device; a --forward reaches the device the token names, SOCKS5 knows its name, the receipt is kept', async (t) => {
  const sn = await startSupernode(t)
  const authority = generateAuthority()
  const identity = generateIdentity()
  const deviceKey = Buffer.from(identity.publicKey)
  const nowS = Math.floor(Date.now() / 1000)
  const issue = (role: 'device' | 'technician', serial: number, key: Buffer, macByte: number, address: string, name: string): Buffer =>
    issueCertificate(authority, { role, serial, notBefore: nowS - 60, notAfter: nowS + 3600, memberKey: key, mac: mac(macByte), ipv4: { address, prefix: 24 }, ipv6: null, name })
  const decider: EnrollmentDecider = {
    request: (request): EnrollmentAnswer => ({ state: 'admitted', certificate: issue('technician', 2, request.publicKey, 0x43, '10.9.0.2', request.name) }),
    gone: () => {},
  }
  // the device's "service": what its own overlay address would answer on port 80, here a loopback server
  const served = createServer((socket) => socket.end('hello from the device\n'))
  served.listen(0, '127.0.0.1')
  await once(served, 'listening')
  t.teardown(() => served.close())
  const servedPort = (served.address() as AddressInfo).port
  const secret = Buffer.alloc(32, 0x55)
  const device = await startEdge(t, [sn], {
    keys: undefined, identity, certificate: issue('device', 1, deviceKey, 0x42, '10.9.0.1', 'device'), macByte: 0x42,
    overlay: { address: '10.9.0.1', prefix: 24 }, enrollment: { secret, decider },
    streams: { accept: true, connect: (port) => (port === 80 ? connect(servedPort, '127.0.0.1') : null) },
  })
  await until('device registered', () => isRegistered(device))
  const token: JoinTokenV2 = {
    supernodes: [{ host: '127.0.0.1', port: sn.port }], fallbacks: [], authorityKey: authority.publicKey, deviceKey,
    deviceName: 'lab device', deviceIp: { address: '10.9.0.1', prefix: 24 }, deviceHostName: 'device.overlan',
    expiresAt: (nowS + 3600) * 1000, enrollmentSecret: secret,
  }
  const forwardPort = await freePort()
  const socksPort = await freePort()
  const receiptDir = mkdtempSync(join(tmpdir(), 'overlan-join-receipts-'))
  const child = spawn(process.execPath, [bin, 'edge', '--mgmt', 'off', '--join-file', tokenFile(encodeJoinTokenV2(token)), '--userspace', '--forward', `${forwardPort}:80`, '--socks5', `127.0.0.1:${socksPort}`, '--receipt-dir', receiptDir], { env: { PATH: process.env.PATH, OVERLAN_NATIVE: 'off' }, stdio: ['ignore', 'ignore', 'pipe'] })
  t.teardown(() => child.kill('SIGTERM'))
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const admittedLine = await eventually('the admitted line', () => /admitted: this host is 10\.9\.0\.2\/24 \(userspace, no TAP device\); the device "lab device" is 10\.9\.0\.1 \(device\.overlan\)/.exec(stderr)?.[0] ?? null)
  t.ok(admittedLine, `the technician says where it is and where the device is: ${admittedLine}`)
  const viaForward = await eventually('bytes through the forward', () => readAll(connect(forwardPort, '127.0.0.1')).catch(() => null))
  t.equal(viaForward, 'hello from the device\n', "the forward carries a connection to the device's port 80 (the token's device address, no --target given)")
  const viaSocks = await socksConnect(socksPort, 'device.overlan', 80)
  t.equal(viaSocks, 'hello from the device\n', "SOCKS5 CONNECT to the token's device name reaches the same port")
  t.notMatch(stderr, /\bon overlan\d/, 'no TAP device was opened (and none could be: the C addons are off)')

  // the session ends: the device hands the technician its signed receipt, which the CLI keeps (--receipt-dir, default .)
  const now = Date.now()
  const { text } = signReceipt({ sessionId: 'assist-test', deviceKey, start: now - 60_000, end: now, endedBy: 'off', technicians: [], moreTechnicians: 0, auditHead: { seq: 1, hash: '00'.repeat(32) } }, seedOf(identity))
  const delivery = await device.edge.deliverReceipt(Buffer.from(text), 5_000)
  t.equal(delivery.delivered.length, 1, 'the technician confirmed the receipt')
  const savedLine = await eventually('the saved line', () => /the device's receipt of session assist-test is in (\S+?): /.exec(stderr)?.[1] ?? null)
  t.equal(readFileSync(join(receiptDir, basename(savedLine)), 'utf8'), text, 'the receipt is saved in the technician\'s --receipt-dir as the device signed it')
})

t.test('tokens given unsafely or out of date get one line each', async (t) => {
  const future = Date.now() + 3_600_000
  const v2 = (over: Partial<JoinTokenV2> = {}): string =>
    encodeJoinTokenV2({
      supernodes: [{ host: '127.0.0.1', port: 9 }],
      fallbacks: [],
      authorityKey: generateAuthority().publicKey,
      deviceKey: Buffer.alloc(32, 1),
      deviceName: 'd',
      deviceIp: { address: '10.9.0.1', prefix: 24 },
      deviceHostName: 'device.overlan',
      expiresAt: future,
      enrollmentSecret: Buffer.alloc(32, 2),
      ...over,
    })
  const old = encodeJoinToken({ community: 'c', key: 'k', supernodes: [{ host: '127.0.0.1', port: 9 }], expiresAt: future, deviceIp: null })
  const r1 = await overlan(['--join-file', tokenFile(old)])
  t.equal(r1.code, EXIT_USAGE)
  t.match(r1.stderr, 'this join token is from overlan 0.1/0.2 (shared key): ask for a new one')
  const r2 = await overlan(['--join-file', tokenFile(v2({ expiresAt: Date.now() - 1000 }))])
  t.match(r2.stderr, /this session expired at .*; ask for a new token/)
  const r3 = await overlan(['--join', v2({ expiresAt: Date.now() - 1000 })])
  t.match(r3.stderr, JOIN_ON_COMMAND_LINE_WARNING, '--join TOKEN: the warning line')
  const r4 = await overlan(['--join-file', tokenFile(v2({ expiresAt: Date.now() - 1000 }), 0o644)])
  t.match(r4.stderr, /can be read by every user of this host: chmod 600/, 'a world-readable token file: warned')
  const r5 = await overlan([], { OVERLAN_JOIN: v2({ expiresAt: Date.now() - 1000 }) })
  t.match(r5.stderr, 'OVERLAN_JOIN: this session expired', 'OVERLAN_JOIN is read')
  const r6 = await overlan(['--join-file', tokenFile(v2()), '--name', 'a\u0007b'])
  t.match(r6.stderr, '--name: 1 to 64 bytes of text without control characters')
  const r7 = await overlan(['--join-file', tokenFile(v2()), '-c', 'lab'])
  t.match(r7.stderr, 'the token carries the session: give no -c')
  for (const r of [r2, r3, r4, r5, r6, r7]) t.equal(r.code, EXIT_USAGE)
})

t.test('why an admitted technician stopped: one line and the exit code of each', (t) => {
  t.same(stoppedLine('disconnected'), { line: "disconnected by the device's owner", code: EXIT_SESSION_OVER })
  t.same(stoppedLine('session-ended'), { line: 'the assistance session was switched off', code: EXIT_SESSION_OVER })
  t.same(stoppedLine('expired'), { line: 'the assistance session expired', code: EXIT_SESSION_OVER })
  t.same(stoppedLine('signal'), { line: null, code: 0 })
  t.end()
})

/** A TCP port free on loopback now. */
async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Everything a connection sends until it ends. */
function readAll(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    socket.on('data', (d: Buffer) => (text += d.toString()))
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
  })
}

/** A SOCKS5 CONNECT by name (no authentication), then what the far end sends. */
async function socksConnect(port: number, host: string, targetPort: number): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  const replies: Buffer[] = []
  socket.on('data', (d: Buffer) => replies.push(d))
  const wait = async (bytes: number): Promise<Buffer> => {
    while (Buffer.concat(replies).length < bytes) await once(socket, 'data')
    const all = Buffer.concat(replies.splice(0))
    replies.push(all.subarray(bytes))
    return all.subarray(0, bytes)
  }
  socket.write(Buffer.from([5, 1, 0]))
  const method = await wait(2)
  if (method[1] !== 0) throw new Error(`SOCKS5 method ${method[1]}`)
  const name = Buffer.from(host)
  socket.write(Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, Buffer.from([targetPort >> 8, targetPort & 0xff])]))
  const reply = await wait(10)
  if (reply[1] !== 0) throw new Error(`SOCKS5 reply ${reply[1]}`)
  const rest = Buffer.concat(replies.splice(0)).toString()
  return rest + (await readAll(socket))
}

/** Asks again every 100 ms until the answer is not null (20 s at most: a busy machine starts node slowly). */
async function eventually<T>(what: string, ask: () => T | null | Promise<T | null>): Promise<T> {
  const giveUpAt = Date.now() + 20_000
  for (;;) {
    const answer = await ask()
    if (answer !== null) return answer
    if (Date.now() > giveUpAt) throw new Error(`${what}: not within 20 s`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
