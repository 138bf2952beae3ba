// An edge's identity against a real supernode on loopback (protocol v2): a shared-secret edge
// without -a registers, re-issues its certificate with the address it was given and registers with
// it; an edge restarted with the same --identity takes its place at once, while a new key claiming
// the same MAC is refused as long as the holder is live; an authority's member (`ca issue` then
// `edge --cert --identity`) registers with exactly its certificate; and a revocation written by
// `ca revoke` into the file an edge watches (--revocations) removes the revoked member everywhere.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { caInit, caIssue, caRevoke, REVOCATIONS_FILE } from '../../src/cli/ca.js'
import { edgeConfig, edgeCredentials } from '../../src/cli/edge.js'
import { readRevocationsFile, REVOCATIONS_CHECK_MS, watchRevocationsFile } from '../../src/cli/revocations-file.js'
import { armor } from '../../src/crypto/armor.js'
import { generateAuthority, issueCertificate } from '../../src/crypto/certificate.js'
import { generateIdentity, identityFromSeed, seedOf } from '../../src/crypto/identity.js'
import { Edge } from '../../src/edge/edge.js'
import { CERTIFICATE_REFUSED } from '../../src/edge/registration.js'
import type { Transport } from '../../src/net/transport.js'
import { bindUdp } from '../../src/net/bind.js'
import { holderSilentMs } from '../../src/supernode/supernode.js'
import { MemoryTap } from '../../src/tap/memory-tap.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { registered, startEdge, startSupernode, until } from '../fixtures/overlay.js'
import { keptLines } from '../fixtures/supernode-start.js'

const dir = mkdtempSync(join(tmpdir(), 'overlan-identity-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

t.test('without -a: registered without an address, then with the certificate re-issued for the one assigned', async (t) => {
  const sn = await startSupernode(t)
  const e = await startEdge(t, [sn], { overlay: null })
  await until('a certificate with the assigned address, registered with it', () => e.edge.status().certificate.ip !== null && e.edge.status().supernodes[0]!.registered && sn.status().edges.some((x) => x.fingerprint === e.edge.status().certificate.fingerprint))
  const status = e.edge.status()
  t.match(status.certificate, { role: 'member', selfIssued: true, ip: /^10\.\d+\.\d+\.\d+\/\d+$/ })
  t.equal(status.ip, status.certificate.ip, 'the edge uses the address of its certificate')
  const held = sn.status().edges.find((x) => x.id === status.edgeId)
  t.equal(held?.ip, status.certificate.ip, 'the supernode holds that address for it')
  t.equal(held?.fingerprint, status.certificate.fingerprint, 'under the re-issued certificate')
  const skew = status.supernodes[0]!.clockSkewMs
  t.ok(typeof skew === 'number' && Math.abs(skew) < 1000, `clock skew measured (${skew} ms; same clock on both sides)`)
})

/** A transport whose sends stop when killed: the edge "dies" without its DEREGISTER reaching anyone. */
function killable(inner: Transport): Transport & { kill(): void } {
  let dead = false
  return {
    send: (buf, offset, length, port, address) => {
      if (!dead) inner.send(buf, offset, length, port, address)
    },
    sendWithTtl: (buf, offset, length, port, address, ttl) => {
      if (!dead) inner.sendWithTtl(buf, offset, length, port, address, ttl)
    },
    onDatagram: (receiver) => inner.onDatagram((msg, address, port) => dead || receiver(msg, address, port)),
    local: () => inner.local(),
    pendingSends: () => inner.pendingSends(),
    flush: () => inner.flush(),
    close: () => inner.close(),
    kill: () => void (dead = true),
  }
}

t.test('--identity: a restarted edge takes its place at once; another key with its MAC is refused while it is live', async (t) => {
  const sn = await startSupernode(t)
  const seed = seedOf(generateIdentity())
  const overlay = { address: '10.9.0.42', prefix: 24 }
  const first = killable(await bindUdp({ address: '127.0.0.1', port: 0 }))
  const a = await startEdge(t, [sn], { identity: identityFromSeed(seed), overlay, macByte: 0x42, transport: first })
  await registered(a)
  const id = a.edge.status().edgeId
  first.kill()
  const killedAt = Date.now()
  await a.edge.stop('killed')
  t.ok(sn.status().edges.some((x) => x.id === id), 'killed without a goodbye: the supernode still holds it')

  // a newcomer with another key and the same MAC and address: refused while the holder is live
  const { lines, logger } = keptLines()
  const other = await startEdge(t, [sn], { overlay, macByte: 0x42, logger })
  await until('refused', () => lines.some((l) => /refused registration: (mac|address)-in-use/.test(l)))
  t.notOk(other.edge.status().supernodes[0]!.registered, 'not registered')
  await other.edge.stop()

  // the same identity again: the same member, registered at once, long before another key could take the place
  const again = await startEdge(t, [sn], { identity: identityFromSeed(seed), overlay, macByte: 0x42 })
  await registered(again)
  t.equal(again.edge.status().edgeId, id, 'the same edge ID')
  const silentFor = Date.now() - killedAt
  t.ok(silentFor < holderSilentMs(DEFAULT_KEEPALIVE_SECONDS), `registered ${silentFor} ms after the kill, before the ${holderSilentMs(DEFAULT_KEEPALIVE_SECONDS)} ms another key must wait`)
  t.equal(sn.status().edges.filter((x) => x.id === id).length, 1, 'one registration')
})

/** `overlan ca init`, and an identity key file for a member, as `overlan keygen --identity` makes it. */
function authorityDir(): { ca: string; identityFile: (name: string) => string } {
  const ca = join(dir, `ca-${Math.random().toString(36).slice(2)}`)
  caInit({ out: ca })
  return {
    ca,
    identityFile: (name) => {
      const identity = generateIdentity()
      const path = join(dir, `${name}.key`)
      writeFileSync(path, armor('identity', seedOf(identity)), { mode: 0o600 })
      chmodSync(path, 0o600)
      writeFileSync(`${path}.pub`, armor('publicKey', identity.publicKey))
      return path
    },
  }
}

/** The supernode's default keepalive interval (supernode.ts DEFAULT_CONFIG), which the holder's silence is counted in. */
const DEFAULT_KEEPALIVE_SECONDS = 20

const BASE = { device: 'ovl0', mtu: 1390, port: 0, mgmt: 'off', 'relay-only': false, 'log-level': 'info' }

/** `overlan edge --cert FILE --identity KEYFILE -l 127.0.0.1:PORT [...]` on a MemoryTap with the certificate's MAC. */
async function authorityMember(port: number, cert: string, identity: string, extra: Record<string, unknown> = {}, logger = keptLines().logger): Promise<Edge> {
  const config = edgeConfig({ ...BASE, cert, identity, supernode: [`127.0.0.1:${port}`], ...extra }, {})
  const credentials = await edgeCredentials(config, undefined)
  const tap = new MemoryTap(`mem-${credentials.certificate.name}`, credentials.mac)
  return Edge.start({ ...config, overlay: credentials.certificate.ipv4, credentials, bind: { address: '127.0.0.1', port: 0 } }, { tap, logger })
}

t.test('ca issue, then edge --cert --identity: registered with exactly what the certificate says', async (t) => {
  const sn = await startSupernode(t)
  const { ca, identityFile } = authorityDir()
  const key = identityFile('anna')
  const cert = join(dir, 'anna.crt')
  const issued = caIssue({ ca, name: 'anna', ip: '10.77.0.5/24', ip6: 'fd00:77::5/64', role: 'technician', expires: '8h', pub: `${key}.pub`, out: cert, mac: '02:77:00:00:00:05' }, Math.floor(Date.now() / 1000))
  const fingerprint = /certificate ([a-z2-7]{32}) /.exec(issued.stdout)![1]
  const edge = await authorityMember(sn.port, cert, key)
  t.teardown(() => edge.stop())
  await until('registered', () => edge.status().supernodes[0]!.registered)
  const status = edge.status()
  t.match(status.certificate, { name: 'anna', fingerprint, role: 'technician', mac: '02:77:00:00:00:05', ip: '10.77.0.5/24', ipv6: 'fd00:77::5/64', selfIssued: false })
  t.equal(status.mac, '02:77:00:00:00:05', "the TAP has the certificate's MAC")
  t.equal(status.name, 'anna')
  t.match(sn.status().edges, [{ id: status.edgeId, name: 'anna', fingerprint, ip: '10.77.0.5/24', mac: '02:77:00:00:00:05', role: 'technician' }])
})

t.test('ca revoke → CA/revocations → an edge watching it (--revocations) → the supernode drops the member, which stops', async (t) => {
  const sn = await startSupernode(t)
  const { ca, identityFile } = authorityDir()
  const now = Math.floor(Date.now() / 1000)
  const issue = (name: string, ip: string, key: string): string => {
    const out = join(dir, `${name}-${now}.crt`)
    caIssue({ ca, name, ip, role: name === 'device' ? 'device' : 'technician', expires: '8h', pub: `${key}.pub`, out }, now)
    return out
  }
  const deviceKey = identityFile('device')
  const bobKey = identityFile('bob')
  const deviceCert = issue('device', '10.78.0.1/24', deviceKey)
  const bobCert = issue('bob', '10.78.0.2/24', bobKey)
  const revocationsPath = join(ca, REVOCATIONS_FILE)
  writeFileSync(revocationsPath, '# none yet\n')

  const bobLog = keptLines()
  const bob = await authorityMember(sn.port, bobCert, bobKey, {}, bobLog.logger)
  t.teardown(() => bob.stop())
  const stopped = new Promise<string>((resolve) => bob.on('stopped', resolve))
  const device = await authorityMember(sn.port, deviceCert, deviceKey, { revocations: revocationsPath })
  t.teardown(() => device.stop())
  await until('both registered', () => sn.status().edges.length === 2)

  // as `overlan edge --revocations` does: the file watched on a clock (moved by hand here)
  const clock = new ManualClock()
  const watch = watchRevocationsFile(revocationsPath, clock, (revocations) => device.setRevocations(revocations), (problem) => t.fail(problem))
  t.teardown(() => watch.cancel())
  const revoked = caRevoke({ ca, cert: bobCert }, now)
  t.match(revoked.stderr, /holds the 1 revocation still in force/)
  t.equal(readRevocationsFile(revocationsPath).length, 1)
  await clock.advance(REVOCATIONS_CHECK_MS)

  t.equal(await stopped, CERTIFICATE_REFUSED, 'the revoked member stops')
  t.ok(bobLog.lines.some((l) => /^error supernode 127\.0\.0\.1:\d+ says the authority revoked the certificate; the edge stops: this certificate will not work again$/.test(l)), 'with one line saying so')
  t.notOk(sn.status().edges.some((x) => x.name === 'bob'), 'the supernode no longer holds it')
  t.ok(sn.status().edges.some((x) => x.name === 'device'), 'the device stays')
  t.equal(sn.status().revocations, 1, 'the supernode keeps the revocation')
})



t.test("an authority's certificate ends its edge at notAfter (it cannot renew itself), with one line", async (t) => {
  const clock = new ManualClock(Date.now())
  const nowS = Math.floor(clock.now() / 1000)
  const authority = generateAuthority()
  const identity = generateIdentity()
  const certificate = issueCertificate(authority, { role: 'technician', serial: 9, notBefore: nowS - 10, notAfter: nowS + 30, memberKey: identity.publicKey, mac: Buffer.from('02aa00000009', 'hex'), ipv4: { address: '10.79.0.9', prefix: 24 }, ipv6: null, name: 'short' })
  const { lines, logger } = keptLines()
  const sn = await startSupernode(t)
  const edge = await Edge.start(
    { certificate, identity, supernodes: [{ host: '127.0.0.1', port: sn.port }], overlay: null, bind: { address: '127.0.0.1', port: 0 }, mgmt: null },
    { tap: new MemoryTap('mem-short', Buffer.from('02aa00000009', 'hex')), clock, logger },
  )
  const stopped = new Promise<string>((resolve) => edge.on('stopped', resolve))
  await clock.advance(29_000, 1_000)
  t.equal(edge.status().certificate.name, 'short', 'still running a second before the end')
  await clock.advance(2_000, 500)
  t.equal(await stopped, CERTIFICATE_REFUSED)
  t.equal(lines.filter((l) => l.startsWith('error')).length, 1)
  t.match(lines.find((l) => l.startsWith('error')), /^error the certificate expired at \S+: the edge stops; ask the authority for a new one$/)
})
