// `overlan edge --join-file` as a technician runs it (the built CLI in a child process) against a
// real supernode and device edge in this process: it waits (the waiting line), and exits 3 within
// 5 s of the owner's Deny, before it ever opens a TAP device (so no root is needed). Bad tokens and
// unsafe ways of giving one get their one line.
import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { encodeJoinToken, encodeJoinTokenV2, type JoinTokenV2 } from '../../src/assist/join-token.js'
import { generateAuthority, issueCertificate } from '../../src/crypto/certificate.js'
import { generateIdentity } from '../../src/crypto/identity.js'
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
