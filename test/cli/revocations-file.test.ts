// `overlan edge --revocations FILE` while the edge runs: a changed file is read within a second (on
// an injected clock); a bad version of it is reported once and the revocations read before stay;
// blank lines and comments are skipped.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { REVOCATIONS_CHECK_MS, readRevocationsFile, watchRevocationsFile } from '../../src/cli/revocations-file.js'
import { armor } from '../../src/crypto/armor.js'
import { generateAuthority, issueCertificate } from '../../src/crypto/certificate.js'
import { generateIdentity } from '../../src/crypto/identity.js'
import { signRevocation } from '../../src/crypto/revocation.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { decodeCertificate } from '../../src/wire/index.js'

const dir = mkdtempSync(join(tmpdir(), 'overlan-revocations-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const authority = generateAuthority()
const NOW = Math.floor(Date.now() / 1000)
function revocationLine(serial: number): string {
  const bytes = issueCertificate(authority, { role: 'member', serial, notBefore: NOW, notAfter: NOW + 3600, memberKey: generateIdentity().publicKey, mac: Buffer.from('02aabbccddee', 'hex'), ipv4: { address: '10.9.0.5', prefix: 24 }, ipv6: null, name: '' })
  const decoded = decodeCertificate(bytes)
  if (!decoded.ok) throw new Error(decoded.reason)
  return armor('revocation', signRevocation(authority, decoded.value, NOW)).toString()
}

t.test('read again when it changes; a bad version is said once and the last good one stays', async (t) => {
  const path = join(dir, 'revocations')
  writeFileSync(path, `# from overlan ca revoke\n\n${revocationLine(1)}`)
  t.equal(readRevocationsFile(path).length, 1, 'comments and blank lines skipped')
  const clock = new ManualClock()
  const seen: number[] = []
  const problems: string[] = []
  const watch = watchRevocationsFile(path, clock, (r) => seen.push(r.length), (p) => problems.push(p))
  t.teardown(() => watch.cancel())

  await clock.advance(REVOCATIONS_CHECK_MS * 3)
  t.same(seen, [], 'unchanged: nothing')
  writeFileSync(path, `${revocationLine(1)}${revocationLine(2)}`)
  await clock.advance(REVOCATIONS_CHECK_MS)
  t.same(seen, [2], 'changed: read within a second')

  writeFileSync(path, `${revocationLine(1)}garbage\n`)
  await clock.advance(REVOCATIONS_CHECK_MS * 5)
  t.same(seen, [2], 'a bad version hands nothing on')
  t.equal(problems.length, 1, 'said once, not every second')
  t.match(problems[0], /^--revocations: .*revocations line 2: not an overlan-revocation-v1 file .*; keeping the revocations read before$/)

  writeFileSync(path, `${revocationLine(3)}`)
  await clock.advance(REVOCATIONS_CHECK_MS)
  t.same(seen, [2, 1], 'fixed: read again')
})
