// The assistance state file across versions: consent (issue 13) writes format 4, mode 0600: the
// device's identity key at the top (kept across sessions) and a session as an authority's
// community (its key, the device's certificate, each technician's request, certificate and
// revocation) with its traffic (the idle countdown's start, each technician's admission and
// figures). A format-3 file (overlan 0.3) is read with its traffic unknown. overlan 0.1/0.2 files (formats 1 and 2) held a shared-key session that cannot go on
// under consent: it is dropped with one line saying so (a format-2 device identity is kept); a
// file from a newer overlan, or with a damaged identity, session or technician, is refused with a
// reason (the service then starts disabled and audits it).
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { STATE_FILE, STATE_VERSION, loadState, newDeviceIdentity, saveState, type SessionState } from '../../src/assist/state-file.js'
import type { TechnicianRecord } from '../../src/assist/technicians.js'

const dir = mkdtempSync(join(tmpdir(), 'overlan-state-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const SEED = Buffer.alloc(32, 7).toString('base64')
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
const V3_ADMITTED: TechnicianRecord = {
  id: '0123456789ab',
  name: 'Alice',
  publicKey: Buffer.alloc(32, 2).toString('base64'),
  fingerprint: 'a'.repeat(32),
  address: '198.51.100.7:40000',
  state: 'admitted',
  requestedAt: Date.UTC(2026, 10, 30, 9),
  since: Date.UTC(2026, 10, 30, 9, 1),
  decidedBy: 'console',
  ip: '10.99.0.2',
  certificate: 'Y2VydA==',
  certificateFingerprint: 'b'.repeat(32),
}
const ADMITTED: TechnicianRecord = {
  ...V3_ADMITTED,
  admittedAt: V3_ADMITTED.since,
  traffic: { firstSeen: Date.UTC(2026, 10, 30, 9, 2), lastSeen: Date.UTC(2026, 10, 30, 9, 40), rxBytes: 123_456, txBytes: 654_321 },
}
/** A session as overlan 0.3 wrote it (format 3): no traffic. */
const V3_SESSION: Omit<SessionState, 'lastTraffic'> = {
  community: '00112233445566778899aabbccddeeff',
  since: V1_SESSION.since,
  expiresAt: V1_SESSION.expiresAt,
  adminAccess: false,
  adminPassword: null,
  overlayIp: '10.99.0.1/24',
  deviceMac: '02:11:22:33:44:55',
  token: 'ovl2.AAAA',
  authority: Buffer.alloc(32, 3).toString('base64'),
  enrollmentSecret: Buffer.alloc(32, 4).toString('base64'),
  deviceCertificate: 'ZGV2aWNl',
  consent: 'ask',
  maxTechnicians: 3,
  idleMinutes: 30,
  allow: 'tcp/22,icmp',
  issued: 2,
  technicians: [V3_ADMITTED],
}
const V4_SESSION: SessionState = { ...V3_SESSION, lastTraffic: Date.UTC(2026, 10, 30, 9, 40), technicians: [ADMITTED] }

t.test('format 4 round trip: identity, session, technicians and traffic kept; the file is 0600', async (t) => {
  await saveState(dir, { version: STATE_VERSION, deviceIdentity: SEED, session: V4_SESSION })
  t.equal(statSync(join(dir, STATE_FILE)).mode & 0o777, 0o600)
  t.same(await loadState(dir), { ok: true, state: { version: 4, deviceIdentity: SEED, session: V4_SESSION } })
  await saveState(dir, { version: STATE_VERSION, deviceIdentity: SEED, session: null })
  t.same(await loadState(dir), { ok: true, state: { version: 4, deviceIdentity: SEED, session: null } })
})

t.test('format 3 (overlan 0.3): the session goes on, its traffic unknown: idle counted from the restart, admission from the record', async (t) => {
  const disconnected = { ...V3_ADMITTED, id: 'ba9876543210', state: 'disconnected', since: Date.UTC(2026, 10, 30, 9, 30), revocation: 'cmV2', reason: 'disconnected' }
  await writeFile(join(dir, STATE_FILE), JSON.stringify({ version: 3, deviceIdentity: SEED, session: { ...V3_SESSION, technicians: [V3_ADMITTED, disconnected] } }))
  const loaded = await loadState(dir)
  t.same(loaded, {
    ok: true,
    state: {
      version: 4,
      deviceIdentity: SEED,
      session: { ...V3_SESSION, lastTraffic: null, technicians: [{ ...V3_ADMITTED, admittedAt: V3_ADMITTED.since }, { ...disconnected, admittedAt: V3_ADMITTED.requestedAt }] },
    },
  })
  t.notOk(loaded.ok && (loaded.migrated !== undefined || loaded.droppedSession), 'nothing dropped, no session-ending note')
})

t.test('no file: no session and a new device identity of 32 bytes', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'overlan-state-'))
  t.teardown(() => rmSync(empty, { recursive: true, force: true }))
  const loaded = await loadState(empty)
  t.ok(loaded.ok && loaded.state.session === null && Buffer.from(loaded.state.deviceIdentity, 'base64').length === 32)
  t.not(newDeviceIdentity(), newDeviceIdentity(), 'random')
})

t.test('formats 1 and 2 (shared-key sessions): the session is dropped with one line; a format-2 device identity is kept', async (t) => {
  await writeFile(join(dir, STATE_FILE), JSON.stringify({ version: 2, session: { ...V1_SESSION, deviceIdentity: SEED } }))
  const two = await loadState(dir)
  t.match(two, { ok: true, droppedSession: true, state: { version: 4, deviceIdentity: SEED, session: null } })
  if (two.ok) t.equal(two.migrated, "state.json is from overlan 0.2 (format 2): its assistance session used one shared key for every technician and cannot go on with consent: it has ended; switch assistance on again for a new join token")

  await writeFile(join(dir, STATE_FILE), JSON.stringify({ version: 1, session: V1_SESSION }))
  const one = await loadState(dir)
  t.match(one, { ok: true, droppedSession: true, state: { version: 4, session: null }, migrated: /^state\.json is from overlan 0\.1 \(format 1\): its assistance session used one shared key/ })
  if (one.ok) t.equal(Buffer.from(one.state.deviceIdentity, 'base64').length, 32, 'a new device identity')

  await writeFile(join(dir, STATE_FILE), JSON.stringify({ version: 2, session: null }))
  const idle = await loadState(dir)
  t.match(idle, { ok: true, state: { version: 4, session: null }, migrated: 'state.json is from overlan 0.2 (format 2): converted to format 4' })
  t.notOk(idle.ok && idle.droppedSession, 'nothing dropped')
})

t.test('a newer format, or a damaged identity, session or technician, is refused with a reason', async (t) => {
  const cases: [unknown, string][] = [
    [{ version: 5, deviceIdentity: SEED, session: null }, 'state.json was written by a newer overlan (format 5): upgrade overlan, or remove it to start disabled'],
    [{ version: 3, deviceIdentity: 'c2hvcnQ=', session: null }, 'state.json has a damaged device identity'],
    [{ version: 4, deviceIdentity: SEED, session: { ...V4_SESSION, lastTraffic: 'yesterday' } }, 'state.json has a damaged session'],
    [{ version: 4, deviceIdentity: SEED, session: { ...V4_SESSION, technicians: [{ ...ADMITTED, traffic: { ...ADMITTED.traffic, rxBytes: -1 } }] } }, 'state.json has a damaged session'],
    [{ version: 4, deviceIdentity: SEED, session: { ...V4_SESSION, technicians: [{ ...ADMITTED, traffic: { ...ADMITTED.traffic, lastSeen: 0 } }] } }, 'state.json has a damaged session'],
    [{ version: 3, deviceIdentity: SEED, session: { ...V3_SESSION, authority: 'c2hvcnQ=' } }, 'state.json has a damaged session'],
    [{ version: 3, deviceIdentity: SEED, session: { ...V3_SESSION, consent: 'maybe' } }, 'state.json has a damaged session'],
    [{ version: 3, deviceIdentity: SEED, session: { ...V3_SESSION, maxTechnicians: 11 } }, 'state.json has a damaged session'],
    [{ version: 3, deviceIdentity: SEED, session: { ...V3_SESSION, technicians: [{ ...ADMITTED, certificate: undefined }] } }, 'state.json has a damaged session'],
    [{ version: 3, deviceIdentity: SEED, session: { ...V3_SESSION, technicians: [{ ...ADMITTED, state: 'disconnected' }] } }, 'state.json has a damaged session'],
    [{ version: 3, deviceIdentity: SEED, session: { ...V3_SESSION, technicians: [{ ...ADMITTED, state: 'lurking' }] } }, 'state.json has a damaged session'],
    [[1, 2], 'state.json has an unknown format'],
  ]
  for (const [json, reason] of cases) {
    await writeFile(join(dir, STATE_FILE), JSON.stringify(json))
    t.same(await loadState(dir), { ok: false, reason }, reason)
  }
})
