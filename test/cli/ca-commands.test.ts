// `overlan ca` and `overlan keygen --identity` as a user runs them: files with the right modes,
// nothing overwritten, secret files others can read refused, a certificate from `ca issue` verifies
// for the community `ca init` printed, and a revocation names the certificate it revokes.
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { caInit, caIssue, caRevoke, type IssueArgs } from '../../src/cli/ca.js'
import { CliError } from '../../src/cli/errors.js'
import { readIdentityFile } from '../../src/cli/key-files.js'
import { certificateFingerprint, formatFingerprint, keyFingerprint, macOfKey, unarmor, verifyCertificate, verifyRevocation } from '../../src/crypto/index.js'
import { decodeCertificate, decodeRevocation, type Certificate } from '../../src/wire/index.js'
import { overlan } from '../fixtures/overlan-cli.js'

const dir = mkdtempSync(join(tmpdir(), 'overlan-ca-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const ca = join(dir, 'ca')
const key = join(dir, 'anna.key')

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8)
}

function certificateIn(text: string): Certificate {
  const bytes = unarmor('certificate', Buffer.from(text))
  if (!bytes.ok) throw new Error(bytes.problem)
  const decoded = decodeCertificate(bytes.bytes)
  if (!decoded.ok) throw new Error(decoded.reason)
  return decoded.value
}

async function refused(t: Test, args: string[], option: RegExp, what: string): Promise<void> {
  const { code, stdout, stderr } = await overlan(...args)
  t.not(code, 0, `${what}: non-zero exit`)
  t.equal(stdout, '', `${what}: nothing on stdout`)
  t.equal(stderr.trim().split('\n').length, 1, `${what}: one line (${stderr.trim()})`)
  t.match(stderr, option, `${what}: names the option`)
}

/** In-process: the CLI's own check throws a CliError of one line that names the option. */
function cliRefusal(t: Test, action: () => unknown, message: RegExp, what: string): void {
  try {
    action()
    t.fail(`${what}: accepted`)
  } catch (err) {
    t.ok(err instanceof CliError, `${what}: a CliError`)
    const text = (err as Error).message
    t.match(text, message, `${what}: ${text}`)
    t.notOk(text.includes('\n'), `${what}: one line`)
  }
}

let communityId = ''
let pub: Buffer

t.test('keygen --identity makes a 0600 key and its public file, and never overwrites them', async (t) => {
  const { code, stdout } = await overlan('keygen', '--identity', key)
  t.equal(code, 0)
  t.equal(mode(key), '600', 'the secret key is 0600')
  t.equal(mode(`${key}.pub`), '644', 'the public key is 0644')
  const read = unarmor('publicKey', readFileSync(`${key}.pub`))
  if (!read.ok) return t.fail(read.problem)
  pub = read.bytes
  t.match(stdout, `identity ${keyFingerprint(pub)}`, 'prints the fingerprint of the key it made')
  const before = readFileSync(key)
  await refused(t, ['keygen', '--identity', key], /--identity: .*exists; refusing to overwrite/, 'a second keygen into the same file')
  t.ok(readFileSync(key).equals(before), 'the key is untouched')
})

t.test('an identity file that group or others may read is refused with one line naming the option', (t) => {
  chmodSync(key, 0o640)
  cliRefusal(t, () => readIdentityFile('--identity', key), /^--identity: .*accessible by group or others \(mode 0640\): run chmod 600/, 'a group-readable identity file')
  chmodSync(key, 0o604)
  cliRefusal(t, () => readIdentityFile('--identity', key), /^--identity: .*accessible by group or others \(mode 0604\)/, 'a world-readable identity file')
  chmodSync(key, 0o600)
  t.ok(readIdentityFile('--identity', key).publicKey.equals(pub), 'read once it is 0600 again')
  t.end()
})

t.test('ca init makes the authority, prints the community ID and refuses to overwrite it', async (t) => {
  const { code, stdout } = await overlan('ca', 'init', '--out', ca)
  t.equal(code, 0)
  const match = /^community ID ([0-9a-f]{32})$/.exec(stdout.trim())
  t.ok(match, `prints the community ID: ${stdout.trim()}`)
  communityId = match?.[1] ?? ''
  t.equal(mode(join(ca, 'authority.key')), '600', 'the authority key is 0600')
  t.equal(mode(ca), '700', 'its directory is 0700')
  const before = readFileSync(join(ca, 'authority.key'))
  await refused(t, ['ca', 'init', '--out', ca], /--out: .*authority\.key exists; refusing to overwrite/, 'a second init')
  t.ok(readFileSync(join(ca, 'authority.key')).equals(before), 'the authority key is untouched')
})

let annaCertificate: Certificate
t.test('ca issue: the certificate verifies for the community ca init printed, with the fields asked for', async (t) => {
  const out = join(dir, 'anna.crt')
  const started = Math.floor(Date.now() / 1000)
  const { code, stdout } = await overlan('ca', 'issue', '--ca', ca, '--name', 'Anna', '--ip', '10.9.0.5/24', '--ip6', 'fd00:9::5/64', '--role', 'technician', '--expires', '8h', '--pub', `${key}.pub`, '--out', out)
  t.equal(code, 0)
  annaCertificate = certificateIn(readFileSync(out, 'utf8'))
  t.match(stdout, `certificate ${formatFingerprint(certificateFingerprint(annaCertificate))} serial 1 for "Anna" (technician)`, 'prints the fingerprint and serial')
  const cert = annaCertificate
  t.same(verifyCertificate(cert, { communityId: Buffer.from(communityId, 'hex'), nowSeconds: started + 1 }), { ok: true, fingerprint: certificateFingerprint(cert) }, 'verifies')
  t.same([cert.name, cert.role, cert.ipv4, cert.ipv6, cert.serial], ['Anna', 'technician', { address: '10.9.0.5', prefix: 24 }, { address: 'fd00:9::5', prefix: 64 }, 1])
  t.ok(cert.memberKey.equals(pub), "bound to the member's public key")
  t.ok(cert.mac.equals(macOfKey(pub)), 'MAC derived from the key when none is given')
  t.equal(cert.notAfter - cert.notBefore, 8 * 3600, 'good for 8 hours')
  const finished = Math.ceil(Date.now() / 1000)
  t.ok(cert.notBefore >= started && cert.notBefore <= finished, `from the moment it was issued (${started} ≤ ${cert.notBefore} ≤ ${finished})`)
  await refused(t, ['ca', 'issue', '--ca', ca, '--name', 'Anna', '--ip', '10.9.0.5/24', '--expires', '8h', '--pub', `${key}.pub`, '--out', out], /--out: .*exists; refusing to overwrite/, 'issuing into an existing file')

  const second = await overlan('ca', 'issue', '--ca', ca, '--name', 'Bob', '--ip', '10.9.0.6/24', '--mac', '02:00:00:00:00:06', '--expires', '30d', '--pub', `${key}.pub`)
  t.equal(second.code, 0)
  const bob = certificateIn(second.stdout)
  t.equal(bob.serial, 2, 'serials count up per authority; the issue refused for its --out signed nothing')
  t.equal(bob.mac.toString('hex'), '020000000006', '--mac is taken as given')
  t.equal(bob.role, 'member', 'role member by default')
  t.same(readdirSync(join(ca, 'issued')).sort(), ['1.crt', '2.crt'], 'every certificate is kept by serial')
})

t.test('ca issue refuses a readable authority key and bad options, one line each naming the option', async (t) => {
  const good: IssueArgs = { ca, name: 'X', ip: '10.9.0.7/24', role: 'member', expires: '1h', pub: `${key}.pub` }
  chmodSync(join(ca, 'authority.key'), 0o644)
  // once as the user sees it: one line on stderr, a non-zero exit
  await refused(t, ['ca', 'issue', '--ca', ca, '--name', 'X', '--ip', '10.9.0.7/24', '--expires', '1h', '--pub', `${key}.pub`], /^overlan: --ca: .*authority\.key is accessible by group or others \(mode 0644\)/, 'a world-readable authority key')
  chmodSync(join(ca, 'authority.key'), 0o600)
  const now = Math.floor(Date.now() / 1000)
  const bad: [Partial<IssueArgs>, RegExp, string][] = [
    [{ ip: '10.9.0.300/24' }, /^--ip: /, 'a bad --ip'],
    [{ ip6: 'ff02::1/64' }, /^--ip6: /, 'a multicast --ip6'],
    [{ ip6: 'fd00::1' }, /^--ip6: /, 'an --ip6 without a prefix'],
    [{ mac: '01:00:5e:00:00:01' }, /^--mac: /, 'a multicast --mac'],
    [{ role: 'admin' }, /^--role /, 'an unknown --role'],
    [{ expires: '0h' }, /^--expires: /, 'a zero --expires'],
    [{ expires: '8 weeks' }, /^--expires: /, 'an --expires without a unit we know'],
    [{ expires: '3651d' }, /^--expires: /, 'an --expires beyond ten years'],
    [{ name: 'n'.repeat(65) }, /^--name: /, 'a --name of 65 bytes'],
    [{ name: '' }, /^--name: /, 'an empty --name'],
    [{ name: 'a\u0007b' }, /^--name: /, 'a --name with a control character'],
    [{ pub: join(dir, 'missing.pub') }, /^--pub: cannot read .*ENOENT/, 'a missing --pub'],
    [{ pub: join(dir, 'anna.crt') }, /^--pub: .*not an overlan-public-key-v1 file/, 'a certificate given as --pub'],
    [{ pub: join(dir, 'bad.pub') }, /^--pub: .*not hold an Ed25519 public key/, 'a --pub that is not a curve point'],
    [{ pub: key }, /^--pub: .*not an overlan-public-key-v1 file/, 'the secret key given as --pub'],
    [{ ca: join(dir, 'nowhere') }, /^--ca: cannot read/, 'a --ca that is not an authority'],
  ]
  writeFileSync(join(dir, 'bad.pub'), `overlan-public-key-v1 ${Buffer.alloc(32, 0xff).toString('base64')}\n`)
  for (const [change, message, what] of bad) cliRefusal(t, () => caIssue({ ...good, ...change }, now), message, what)
  t.same(readdirSync(join(ca, 'issued')).sort(), ['1.crt', '2.crt'], 'no refused issue left a certificate behind')
})

t.test('ca revoke: by file or by fingerprint, a signed revocation naming that certificate', async (t) => {
  const fingerprint = formatFingerprint(certificateFingerprint(annaCertificate))
  const { code, stdout, stderr } = await overlan('ca', 'revoke', '--ca', ca, '--cert', join(dir, 'anna.crt'))
  t.equal(code, 0)
  t.match(stderr, `revoked certificate ${fingerprint} (serial 1, "Anna")`)
  const bytes = unarmor('revocation', Buffer.from(stdout))
  if (!bytes.ok) return t.fail(bytes.problem)
  const rev = decodeRevocation(bytes.bytes)
  if (!rev.ok) return t.fail(rev.reason)
  t.ok(rev.value.fingerprint.equals(certificateFingerprint(annaCertificate)), 'names the certificate by fingerprint')
  t.equal(rev.value.serial, 1, 'and by serial')
  t.equal(rev.value.notAfter, annaCertificate.notAfter, "carries the certificate's notAfter")
  t.same(verifyRevocation(rev.value, Buffer.from(communityId, 'hex')), { ok: true }, 'signed by the authority of the community')
  t.equal(readFileSync(join(ca, 'revoked', `${fingerprint}.rev`), 'utf8'), stdout, 'kept in DIR/revoked')

  const now = Math.floor(Date.now() / 1000)
  const again = caRevoke({ ca, fingerprint: fingerprint.toUpperCase() }, now + 5)
  t.equal(again.stdout, stdout, 'revoking again, by fingerprint, prints the revocation already made')
  cliRefusal(t, () => caRevoke({ ca }, now), /--cert FILE or --fingerprint F/, 'neither --cert nor --fingerprint')
  cliRefusal(t, () => caRevoke({ ca, cert: join(dir, 'anna.crt'), fingerprint }, now), /--cert FILE or --fingerprint F/, 'both')
  cliRefusal(t, () => caRevoke({ ca, fingerprint: 'a'.repeat(32) }, now), /^--fingerprint: no certificate with fingerprint/, 'a fingerprint this authority never issued')
  cliRefusal(t, () => caRevoke({ ca, fingerprint: 'not-a-fingerprint' }, now), /^--fingerprint: .*is not a certificate fingerprint/, 'a malformed fingerprint')
  const other = join(dir, 'other-ca')
  t.match(caInit({ out: other }).stdout, /^community ID [0-9a-f]{32}\n$/)
  cliRefusal(t, () => caRevoke({ ca: other, cert: join(dir, 'anna.crt') }, now), /^--cert: .*not issued by the authority in/, "another authority's certificate")
})

t.test('--help describes ca and its commands', async (t) => {
  const top = await overlan('--help')
  t.match(top.stdout, /overlan ca +Run a community authority/)
  const ca = await overlan('ca', '--help')
  for (const command of ['init', 'issue', 'revoke']) t.match(ca.stdout, `overlan ca ${command}`)
  const issue = await overlan('ca', 'issue', '--help')
  for (const option of ['--ca', '--name', '--ip', '--ip6', '--mac', '--role', '--expires', '--pub', '--out']) t.match(issue.stdout, option)
  const keygen = await overlan('keygen', '--help')
  t.match(keygen.stdout, /--identity/)
  await refused(t, ['ca'], /ca command: init, issue or revoke/, 'ca without a command')
})
