// One technician cannot reach another's traffic (root): `overlan assist` behind a NAT, two
// technicians behind NATs of their own running the real CLI, both admitted to the one session.
// Technician B, root in its namespace, captures everything on its TAP device while A pings the
// device with a marked payload and pulls a marked file from it over HTTP: nothing of A's reaches B
// (no unicast frame from A's MAC, no IPv4 packet from or to A's overlay address, no byte of either
// payload), while the capture does see B's own ping. B then forges frames as A toward the device
// (A's MAC and address, A's address from B's MAC, an ARP claim of A's address): the device's edge
// drops each under its reason, and A still reaches the device.
// And B cannot reach A's own host: technicians never pair (src/edge/peers.ts refuses a technician's
// certificate on a technician's edge, technician-pair), so B's pings to A's overlay address go
// unanswered, neither is the other's peer, and A still reaches the device.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { natLab, TAP, waitFor, type NatLab, type Site } from '../fixtures/lab.js'
import { DEVICE_IP, assistApi, joinAsTechnician, startAssist } from '../fixtures/lab-assist.js'
import { arpBroadcast, ipv4Frame } from '../fixtures/frames.js'
import { capturedFrames, sendFrames, startCapture } from '../fixtures/raw-capture.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const HTTP_PORT = 8080
/** "A-secret-ping", as ping -p repeats it through each echo's payload */
const PING_PATTERN = Buffer.from('A-secret-ping')
const FILE_MARK = Buffer.from('A-SECRET-FILE-')
const FILE_BYTES = 256 * 1024
const CAPTURE_SECONDS = 15
const COPIES = 5

type Listed = { id: string; name: string; state: string; ip: string | null }

async function macOf(lab: NatLab, ns: string): Promise<Buffer> {
  const { stdout } = await lab.exec(ns, 'cat', [`/sys/class/net/${TAP}/address`])
  return Buffer.from(stdout.trim().replaceAll(':', ''), 'hex')
}

async function deviceDrops(lab: NatLab, device: Site): Promise<Record<string, number>> {
  const { stdout } = await lab.exec(device.ns, 'curl', ['-sS', '--max-time', '5', 'http://127.0.0.1:5646/status'])
  return (JSON.parse(stdout) as { drops: Record<string, number> }).drops
}

const isMulticast = (frame: Buffer): boolean => (frame[0]! & 1) === 1
const ipv4Ends = (frame: Buffer): [string, string] | null => (frame.length >= 34 && frame.readUInt16BE(12) === 0x0800 ? [frame.subarray(26, 30).join('.'), frame.subarray(30, 34).join('.')] : null)

t.test("technician B sees nothing of A's traffic with the device and cannot pass for A", async (t) => {
  if (skipUnlessRoot(t, 'two technicians with real TAP devices across NATs, one capturing and forging frames')) return
  const dir = await mkdtemp(join(tmpdir(), 'overlan-lab-isolated-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const stateDir = join(dir, 'state')
  const lab = await natLab(t)
  const device = await lab.addNatSite('cone')
  const aSite = await lab.addNatSite('cone')
  const bSite = await lab.addNatSite('cone')
  await lab.startSupernode()

  const service = startAssist(lab, device, stateDir)
  t.ok(await service.waitForLine(/console on http/, 20_000), 'the service is up')
  const api = assistApi(lab, device, stateDir)
  const on = await api('POST', '/api/assistance', { enabled: true, durationSeconds: 600, consent: 'ask', maxTechnicians: 2 })
  t.match(on, { enabled: true, token: /^ovl2\./ })
  const admit = async (site: Site, name: string): Promise<string> => {
    const p = joinAsTechnician(lab, site, on.token as string, name, dir)
    const request = await waitFor(`${name}'s request`, async () => ((await api('GET', '/api/technicians')) as unknown as Listed[]).find((x) => x.name === name && x.state === 'waiting'), 20_000)
    if (request.value === undefined) throw new Error(`no request from ${name}:\n${p.lines.join('\n')}`)
    const admitted = (await api('POST', `/api/technicians/${request.value.id}`, { admit: true })) as unknown as Listed
    t.match(admitted, { state: 'admitted', ip: /^10\.99\.0\.\d+$/ }, `${name} admitted`)
    t.ok((await lab.firstReply(site.ns, DEVICE_IP, 15_000)).ok, `${name} reaches the device`)
    return admitted.ip!
  }
  const aIp = await admit(aSite, 'alice')
  const bIp = await admit(bSite, 'bob')
  const [aMac, bMac, deviceMac] = [await macOf(lab, aSite.ns), await macOf(lab, bSite.ns), await macOf(lab, device.ns)]

  // the device serves a marked file on its overlay address
  const served = join(dir, 'served')
  await mkdir(served)
  await writeFile(join(served, 'secret.bin'), Buffer.alloc(FILE_BYTES, FILE_MARK))
  const http = lab.spawn('http on the device', device.ns, 'python3', ['-u', '-m', 'http.server', String(HTTP_PORT), '--bind', DEVICE_IP, '--directory', served])
  t.ok(await http.waitForLine(/Serving HTTP/, 10_000), "the device's HTTP server is up")

  // bob captures everything on his TAP device while alice pings the device and pulls the file
  const captureFile = join(dir, 'bob.frames')
  const capture = await startCapture(lab, bSite.ns, TAP, CAPTURE_SECONDS, captureFile)
  const pinged = await lab.exec(aSite.ns, 'ping', ['-4', '-n', '-c', '5', '-i', '0.2', '-W', '1', '-p', PING_PATTERN.toString('hex'), DEVICE_IP])
  t.match(pinged.stdout, / 5 received/, 'alice: 5 marked pings answered by the device')
  const pulled = await lab.exec(aSite.ns, 'curl', ['-sS', '--max-time', '10', '-o', '/dev/null', '-w', '%{size_download}', `http://${DEVICE_IP}:${HTTP_PORT}/secret.bin`])
  t.equal(pulled.stdout, String(FILE_BYTES), `alice pulled the ${FILE_BYTES}-byte marked file from the device`)
  t.equal((await lab.ping(bSite.ns, DEVICE_IP, 2)).received, 2, "bob's own pings to the device meanwhile (the capture must see them)")
  await capture.waitExit((CAPTURE_SECONDS + 10) * 1000)
  const frames = await capturedFrames(captureFile)

  const own = frames.filter((f) => f.subarray(6, 12).equals(bMac) && ipv4Ends(f)?.[1] === DEVICE_IP)
  t.ok(own.length >= 2, `the capture works: it holds bob's own packets to the device (${own.length} of ${frames.length} frames)`)
  const fromA = frames.filter((f) => f.subarray(6, 12).equals(aMac))
  t.same(fromA.filter((f) => !isMulticast(f)).length, 0, "no unicast frame from alice's MAC")
  t.same(frames.filter((f) => f.subarray(0, 6).equals(aMac)).length, 0, "no frame to alice's MAC")
  t.same(frames.filter((f) => ipv4Ends(f)?.includes(aIp)).length, 0, "no IPv4 packet from or to alice's overlay address")
  t.same(frames.filter((f) => f.includes(PING_PATTERN) || f.includes(FILE_MARK)).length, 0, "no byte of alice's ping payload or of the file she pulled")
  t.comment(`bob's capture: ${frames.length} frames; from alice's MAC (broadcast or multicast only): ${fromA.length}`)

  // bob poses as alice toward the device
  const before = await deviceDrops(lab, device)
  const forged = [
    ipv4Frame(deviceMac, aMac, aIp, DEVICE_IP), // alice's MAC and address
    ipv4Frame(deviceMac, bMac, aIp, DEVICE_IP), // alice's address from bob's own MAC
    arpBroadcast(bMac, aIp), // "alice's address is at bob's MAC"
  ]
  const sent = await sendFrames(lab, bSite.ns, TAP, forged.flatMap((f) => Array<Buffer>(COPIES).fill(f)))
  t.equal(sent, forged.length * COPIES, `bob sent ${sent} forged frames from his TAP`)
  const reasons = ['foreign-src-mac', 'foreign-src-ip', 'foreign-arp-sender']
  const grown = (now: Record<string, number>, reason: string): number => (now[reason] ?? 0) - (before[reason] ?? 0)
  const counted = await waitFor('the forged frames counted', async () => {
    const now = await deviceDrops(lab, device)
    return reasons.every((r) => grown(now, r) >= COPIES) ? now : undefined
  }, 10_000)
  const after = counted.value ?? (await deviceDrops(lab, device))
  for (const reason of reasons) t.ok(grown(after, reason) >= COPIES, `the device's edge dropped them as ${reason}: +${grown(after, reason)}`)
  t.equal((await lab.ping(aSite.ns, DEVICE_IP, 5)).received, 5, 'alice still reaches the device: 5 of 5')

  // bob addresses alice herself: technicians never pair (each is admitted to reach the device, not
  // the others), so each edge refuses the other's certificate and nothing reaches alice's host
  const bToA = await lab.ping(bSite.ns, aIp, 3)
  t.equal(bToA.received, 0, `bob (${bIp}) does not reach alice's own host (${aIp}): ${bToA.received}/${bToA.transmitted}`)
  const statusOf = async (site: Site): Promise<{ peers: { name: string }[]; drops: Record<string, number> }> =>
    JSON.parse((await lab.exec(site.ns, 'curl', ['-sS', '--max-time', '5', 'http://127.0.0.1:5644/status'])).stdout) as { peers: { name: string }[]; drops: Record<string, number> }
  const bobStatus = await statusOf(bSite)
  const aliceStatus = await statusOf(aSite)
  t.notOk(bobStatus.peers.some((p) => p.name === 'alice'), "alice is no peer of bob's edge")
  t.notOk(aliceStatus.peers.some((p) => p.name === 'bob'), "bob is no peer of alice's edge")
  t.ok((bobStatus.drops['technician-pair'] ?? 0) + (aliceStatus.drops['technician-pair'] ?? 0) > 0, `refused as a technician pair: bob ${bobStatus.drops['technician-pair']}, alice ${aliceStatus.drops['technician-pair']}`)
  t.equal((await lab.ping(aSite.ns, DEVICE_IP, 3)).received, 3, 'and alice still reaches the device')
})
