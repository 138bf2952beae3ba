// The assistance state file across versions: overlan 0.2 writes format 2 with the device edge's
// identity key (mode 0600); a format-1 file from overlan 0.1 is read with its session intact and a
// new device identity, and says so in one line; a file from a newer overlan, or one whose identity
// is damaged, is refused with a reason (the service then starts disabled and audits it).
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { STATE_FILE, STATE_VERSION, loadState, newDeviceIdentity, saveState, type SessionState } from '../../src/assist/state-file.js'

const dir = mkdtempSync(join(tmpdir(), 'overlan-state-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const V1_SESSION = {
  community: 'assist-abc123def456',
  key: 'k'.repeat(43),
  since: Date.UTC(2026, 10, 30, 8),
  expiresAt: Date.UTC(2026, 10, 30, 20),
  adminAccess: false,
  adminPassword: null,
  overlayIp: '10.99.0.1/24',
  deviceMac: '02:11:22:33:44:55',
  token: 'ovl1.eyJj',
}

t.test('format 2 round trip: the device identity is kept, the file is 0600', async (t) => {
  const session: SessionState = { ...V1_SESSION, deviceIdentity: newDeviceIdentity() }
  await saveState(dir, { version: STATE_VERSION, session })
  t.equal(statSync(join(dir, STATE_FILE)).mode & 0o777, 0o600)
  const loaded = await loadState(dir)
  t.ok(loaded.ok)
  if (!loaded.ok) return
  t.same(loaded.state, { version: 2, session })
  t.equal(loaded.migrated, undefined, 'nothing to say')
  t.equal(Buffer.from(session.deviceIdentity, 'base64').length, 32)
})

t.test('a format-1 file from overlan 0.1: the session goes on with a new device identity, said in one line', async (t) => {
  await writeFile(join(dir, STATE_FILE), JSON.stringify({ version: 1, session: V1_SESSION }))
  const loaded = await loadState(dir)
  t.ok(loaded.ok)
  if (!loaded.ok) return
  t.equal(loaded.state.version, 2)
  t.match(loaded.state.session, V1_SESSION, 'community, key, token, MAC, address and expiry unchanged')
  t.equal(Buffer.from(loaded.state.session!.deviceIdentity, 'base64').length, 32, 'a device identity of 32 bytes')
  t.match(loaded.migrated, /^state\.json is from overlan 0\.1 \(format 1\): its session goes on with a new device identity; technicians join with the same token, using overlan 0\.2 or later$/)

  await writeFile(join(dir, STATE_FILE), JSON.stringify({ version: 1, session: null }))
  const empty = await loadState(dir)
  t.same(empty, { ok: true, state: { version: 2, session: null } }, 'no session: nothing to migrate')
})

t.test('a newer format, or a damaged identity, is refused with a reason', async (t) => {
  await writeFile(join(dir, STATE_FILE), JSON.stringify({ version: 3, session: null }))
  t.same(await loadState(dir), { ok: false, reason: 'state.json was written by a newer overlan (format 3): upgrade overlan, or remove it to start disabled' })
  await writeFile(join(dir, STATE_FILE), JSON.stringify({ version: 2, session: { ...V1_SESSION, deviceIdentity: 'c2hvcnQ=' } }))
  t.same(await loadState(dir), { ok: false, reason: 'state.json has a damaged session' })
  await writeFile(join(dir, STATE_FILE), JSON.stringify({ version: 2, session: V1_SESSION }))
  t.same(await loadState(dir), { ok: false, reason: 'state.json has a damaged session' }, 'format 2 without an identity')
})
