// `overlan edge --cert/--identity/--revocations` as a user runs it, wrongly: each mistake is one line
// naming what to fix, before any TAP device is made (so no root is needed), with exit code 1 for
// options (missing, contradicting the certificate) and 7 for a certificate that is not this
// identity's, has expired or is not valid yet.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { EXIT_CERTIFICATE, EXIT_USAGE } from '../../src/cli/errors.js'
import { armor } from '../../src/crypto/armor.js'
import { generateAuthority, issueCertificate } from '../../src/crypto/certificate.js'
import { generateIdentity, seedOf, type Identity } from '../../src/crypto/identity.js'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const dir = mkdtempSync(join(tmpdir(), 'overlan-edge-cert-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const authority = generateAuthority()
const NOW = Math.floor(Date.now() / 1000)
const MAC = Buffer.from('02aabbccdd05', 'hex')

function identityFile(name: string, identity: Identity = generateIdentity(), mode = 0o600): string {
  const path = join(dir, `${name}.key`)
  writeFileSync(path, armor('identity', seedOf(identity)), { mode })
  chmodSync(path, mode)
  return path
}

function certificateFile(name: string, memberKey: Buffer, notBefore = NOW - 60, notAfter = NOW + 3600): string {
  const path = join(dir, `${name}.crt`)
  const bytes = issueCertificate(authority, { role: 'technician', serial: 1, notBefore, notAfter, memberKey, mac: MAC, ipv4: { address: '10.9.0.5', prefix: 24 }, ipv6: null, name: 'anna' })
  writeFileSync(path, armor('certificate', bytes))
  return path
}

const anna = generateIdentity()
const annaKey = identityFile('anna', anna)
const annaCert = certificateFile('anna', anna.publicKey)
// a port nothing answers on: every case here fails before anything is sent
const SN = ['-l', '127.0.0.1:9', '--mgmt', 'off', '-d', 'ovlcerttest']

const bin = fileURLToPath(new URL('../../bin/overlan.js', import.meta.url))
const run = promisify(execFile)

/**
 * `overlan edge ARGS`, bounded: an edge that wrongly starts (as root it would make its TAP) gets
 * SIGTERM after 20 s, removes its device and exits 0, which the exit-code check then reports.
 */
async function edge(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [bin, 'edge', ...args], { timeout: 20_000 })
    return { code: 0, stderr: '' }
  } catch (err) {
    const e = err as { code: number; stderr: string }
    return { code: e.code, stderr: e.stderr }
  }
}

async function refused(t: Test, args: string[], code: number, message: RegExp, what: string): Promise<void> {
  const result = await edge(args)
  t.equal(result.code, code, `${what}: exit ${code}`)
  const text = result.stderr.trim()
  t.equal(text.split('\n').length, 1, `${what}: one line (${text})`)
  t.match(text, message, `${what}: says what to fix`)
  t.notMatch(text, /\n\s+at /, `${what}: no stack trace`)
}

t.test('options: missing or contradicting the certificate, exit 1', async (t) => {
  await refused(t, ['--cert', annaCert, ...SN], EXIT_USAGE, /--cert needs --identity FILE/, '--cert without --identity')
  await refused(t, ['--cert', annaCert, '--identity', annaKey, '-c', 'lab', '-k', 'secret', ...SN], EXIT_USAGE, /--cert carries the community: give no --join, -c, -k or --key-file/, '--cert with -c -k')
  await refused(t, ['--cert', annaCert, '--identity', annaKey, '-m', '02:aa:bb:cc:dd:06', ...SN], EXIT_USAGE, /--mac 02:aa:bb:cc:dd:06 contradicts the certificate's MAC 02:aa:bb:cc:dd:05/, '-m contradicting')
  await refused(t, ['--cert', annaCert, '--identity', annaKey, '-a', '10.9.0.6/24', ...SN], EXIT_USAGE, /-a 10\.9\.0\.6\/24 contradicts the certificate's address 10\.9\.0\.5\/24/, '-a contradicting')
  await refused(t, ['--cert', annaCert, '--identity', annaKey, '--name', 'bob', ...SN], EXIT_USAGE, /--name "bob" contradicts the certificate's name "anna"/, '--name contradicting')
  await refused(t, ['--cert', join(dir, 'missing.crt'), '--identity', annaKey, ...SN], EXIT_USAGE, /^overlan: --cert: cannot read .*missing\.crt: ENOENT/, 'no certificate file')
  await refused(t, ['--cert', annaCert, '--identity', join(dir, 'missing.key'), ...SN], EXIT_USAGE, /^overlan: --identity: cannot read .*missing\.key: ENOENT/, 'no identity file')
  const open = identityFile('open', anna, 0o644)
  await refused(t, ['--cert', annaCert, '--identity', open, ...SN], EXIT_USAGE, /--identity: .*open\.key is accessible by group or others \(mode 0644\): run chmod 600/, 'identity readable by others')
  const certAsKey = join(dir, 'cert-as-key')
  writeFileSync(certAsKey, armor('certificate', Buffer.alloc(8)), { mode: 0o600 })
  await refused(t, ['-c', 'lab', '-k', 'secret', '--identity', certAsKey, ...SN], EXIT_USAGE, /--identity: .*cert-as-key: not an overlan-identity-v1 file/, 'a certificate given as identity')
})

t.test('the certificate itself: not this identity, expired, not yet valid, exit 7', async (t) => {
  const other = identityFile('other')
  await refused(t, ['--cert', annaCert, '--identity', other, ...SN], EXIT_CERTIFICATE, /^overlan: --cert: the certificate was issued for the key [a-z2-7]{32}, not for this identity \([a-z2-7]{32}\): give the identity file whose \.pub was given to ca issue$/, 'another identity')
  const expired = certificateFile('expired', anna.publicKey, NOW - 7200, NOW - 3600)
  await refused(t, ['--cert', expired, '--identity', annaKey, ...SN], EXIT_CERTIFICATE, /^overlan: --cert: the certificate expired at \S+: ask the authority for a new one$/, 'expired')
  const early = certificateFile('early', anna.publicKey, NOW + 3600, NOW + 7200)
  await refused(t, ['--cert', early, '--identity', annaKey, ...SN], EXIT_CERTIFICATE, /^overlan: --cert: the certificate is not valid before \S+ \(more than 60 s from now\): check this host's clock$/, 'not yet valid')
})

t.test('--revocations: a bad file is refused at the start with its line number', async (t) => {
  const bad = join(dir, 'revocations')
  writeFileSync(bad, '# revocations\n\noverlan-revocation-v1 AAAA\n')
  await refused(t, ['-c', 'lab', '-k', 'secret', '--revocations', bad, ...SN], EXIT_USAGE, /^overlan: --revocations: .*revocations line 3: not a valid revocation \(bad-version\)$/, 'a bad line')
  writeFileSync(bad, 'overlan-revocation-v1 AAA\n')
  await refused(t, ['-c', 'lab', '-k', 'secret', '--revocations', bad, ...SN], EXIT_USAGE, /^overlan: --revocations: .*revocations line 1: its base64 is cut short/, 'bad base64')
  await refused(t, ['-c', 'lab', '-k', 'secret', '--revocations', join(dir, 'none'), ...SN], EXIT_USAGE, /^overlan: --revocations: cannot read .*none: ENOENT/, 'no file')
})
