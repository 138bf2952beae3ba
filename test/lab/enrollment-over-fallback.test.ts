// Technicians behind NAT routers that drop all UDP (`iptables -I FORWARD -p udp -j DROP`) join an
// assistance session through the supernode's TLS WebSocket, with the real CLI: `overlan assist` behind
// a NAT of its own (its edge on UDP, --fallback wss://203.0.113.10/overlan in its join tokens), the
// supernode with TLS on TCP 443 (a CA the test made). Alice runs `overlan edge --join-file F --name
// alice --ca-file CA` on a TAP device: she enrolls over TLS, is admitted through the service's API
// and pings the device over the overlay. Bob runs the same with --userspace --forward as uid 65534
// without capabilities: admitted the same way, curl through his forward fetches a 4 MiB file from
// the device (SHA-256 equal). Figures (time to the waiting line, Allow to first reply, throughput)
// are printed.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { decodeJoinTokenV2 } from '../../src/assist/join-token.js'
import { EDGE_MGMT_URL, SUPERNODE_FALLBACK_URL, SUPERNODE_IP, natLab, tlsSupernodeArgs, waitFor, type LabEdgeStatus, type LabProcess, type NatLab, type Site } from '../fixtures/lab.js'
import { DEVICE_IP, assistApi, joinAsTechnician, startAssist } from '../fixtures/lab-assist.js'
import { curlSha, mbits, startFileServer } from '../fixtures/lab-http.js'
import { makePrivateCa } from '../fixtures/private-ca.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'
import { asNobody, checkUnprivileged, nobodyDir, nobodysFile, readableCopy } from '../fixtures/unprivileged.js'

const BIN = fileURLToPath(new URL('../../bin/overlan.js', import.meta.url))
const WAITING_LINE = /waiting for the device's owner to admit you/
const ON_TLS_LINE = /no UDP answer from supernode 203\.0\.113\.10:7654 within 1 s: asking over wss:\/\/203\.0\.113\.10\/overlan \(tls\)/
const HTTP_PORT = 8080
/** Loose bounds for a loaded machine; the measured figures are in the output. */
const WAITING_WITHIN_MS = 30_000
const ADMITTED_PING_WITHIN_MS = 15_000

type Api = ReturnType<typeof assistApi>
type Listed = { id: string; name: string; state: string; address: string }

/** Waits for `name`'s request, admits it through the API, and returns when. */
async function admit(api: Api, name: string): Promise<{ request: Listed; at: number }> {
  const found = await waitFor(`${name}'s request is listed`, async () => ((await api('GET', '/api/technicians')) as unknown as Listed[]).find((x) => x.name === name && x.state === 'waiting'), 15_000)
  if (found.value === undefined) throw new Error(`${name}'s request never showed`)
  const at = Date.now()
  const answer = await api('POST', `/api/technicians/${found.value.id}`, { admit: true })
  if (answer.state !== 'admitted') throw new Error(`${name} not admitted: ${JSON.stringify(answer)}`)
  return { request: found.value, at }
}

/** The technician's first supernode link as its /status shows it (its management listener in its namespace). */
async function linkOf(lab: NatLab, site: Site): Promise<LabEdgeStatus['supernodes'][number] | undefined> {
  return (await lab.getJson<LabEdgeStatus>(site.ns, `${EDGE_MGMT_URL}/status`).catch(() => undefined))?.supernodes[0]
}

async function waitsOverTls(t: Test, who: LabProcess, name: string, spawnedAt: number): Promise<void> {
  t.ok(await who.waitForLine(ON_TLS_LINE, WAITING_WITHIN_MS), `${name}: the asks move to the TLS fallback, saying so`)
  t.ok(await who.waitForLine(WAITING_LINE, WAITING_WITHIN_MS), `${name} waits for the owner, ${Date.now() - spawnedAt} ms after the command started (Node start-up included)`)
}

t.test('UDP dropped at the technicians\' NATs: enrollment over TLS, admitted through the API; ping over the TAP, curl through a userspace --forward as uid 65534', async (t) => {
  if (skipUnlessRoot(t, 'technicians behind UDP-blocking NATs enrolling with the real CLI')) return
  const ca = makePrivateCa(t, [SUPERNODE_IP])
  const stateDir = await mkdtemp(join(tmpdir(), 'overlan-lab-enroll-tls-'))
  t.teardown(() => rm(stateDir, { recursive: true, force: true }))
  const lab = await natLab(t)
  const deviceSite = await lab.addNatSite('cone')
  const aliceSite = await lab.addNatSite('cone')
  const bobSite = await lab.addNatSite('cone')
  await lab.startSupernode(tlsSupernodeArgs(ca))
  for (const site of [aliceSite, bobSite]) await lab.dropForward(site, ['-p', 'udp'])
  const sha = await startFileServer(lab, deviceSite.ns, HTTP_PORT)

  const service = startAssist(lab, deviceSite, stateDir, 'assist', ['--fallback', SUPERNODE_FALLBACK_URL, '--ca-file', ca.caFile])
  t.ok(await service.waitForLine(/console on http/, 30_000), 'the service is up')
  const api = assistApi(lab, deviceSite, stateDir)
  const on = await api('POST', '/api/assistance', { enabled: true, durationSeconds: 600, consent: 'ask' })
  t.match(on, { enabled: true, token: /^ovl2\./ })
  const token = on.token as string
  t.same(decodeJoinTokenV2(token).fallbacks, [SUPERNODE_FALLBACK_URL], 'the token carries the fallback URL')

  // alice: a TAP device, root (as a Linux technician runs it)
  const aliceStarted = Date.now()
  const alice = joinAsTechnician(lab, aliceSite, token, 'alice', stateDir, ['--ca-file', ca.caFile])
  await waitsOverTls(t, alice, 'alice', aliceStarted)
  const { request, at: allowedAt } = await admit(api, 'alice')
  t.match(request.address, new RegExp(`^${aliceSite.publicIp.replace(/\./g, '\\.')}:\\d+$`), `the owner sees where she asked from: her NAT's address (${request.address})`)
  const first = await lab.firstReply(aliceSite.ns, DEVICE_IP, ADMITTED_PING_WITHIN_MS)
  t.ok(first.ok, `alice pings the device ${first.at - allowedAt} ms after Allow (her edge registers over TLS first)`)
  const aliceLink = await linkOf(lab, aliceSite)
  t.match(aliceLink, { registered: true, transport: 'tls' }, "her edge's /status: registered over TLS")
  const pings = await lab.ping(aliceSite.ns, DEVICE_IP, 20)
  t.equal(pings.received, 20, `20 of 20 pings over the relay and TLS (${pings.received}/${pings.transmitted})`)

  // bob: no root, no TAP, his token and the CA where uid 65534 can read them
  const dir = nobodyDir(t)
  const bobArgs = ['edge', '--join-file', nobodysFile(dir, 'bob.token', token + '\n'), '--name', 'bob', '--ca-file', readableCopy(dir, ca.caFile), '--userspace', '--forward', `${HTTP_PORT}:${HTTP_PORT}`]
  const bobStarted = Date.now()
  const bob = lab.spawn('technician bob', bobSite.ns, 'setpriv', asNobody(process.execPath, [BIN, ...bobArgs]))
  await waitsOverTls(t, bob, 'bob', bobStarted)
  checkUnprivileged(t, bob.pid, 'bob')
  const bobAllowed = await admit(api, 'bob')
  t.ok(await bob.waitForLine(new RegExp(`forward 127\\.0\\.0\\.1:${HTTP_PORT} `), 20_000), `bob's forward listens, ${Date.now() - bobAllowed.at} ms after Allow`)
  const fetched = await curlSha(lab, bobSite.ns, [`http://127.0.0.1:${HTTP_PORT}/file`])
  t.equal(fetched.sha, sha, `curl through bob's --forward fetched the device's 4 MiB file over TLS, SHA-256 equal (${mbits(fetched.ms)} Mbit/s, ${fetched.ms} ms) ${fetched.error}`)
  t.match(await linkOf(lab, bobSite), { registered: true, transport: 'tls' }, "bob's /status: registered over TLS")
  const status = (await api('GET', '/api/technicians')) as unknown as Listed[]
  t.same(status.filter((x) => x.state === 'admitted').map((x) => x.name).sort(), ['alice', 'bob'], 'both listed as admitted')
})
