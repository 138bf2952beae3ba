// Authority mode (issue 12), attacked as the audit did, with the real CLI in the namespace lab. The
// operator makes an authority (`overlan ca init`) and issues certificates to a device, a technician
// and another member (trent, role member: two technicians never pair, see
// lab/assist-technicians-isolated); the technician is hostile and holds a valid certificate of its own.
// (a) It starts an edge with its own certificate but the device's MAC (-m) or address (-a), or with
//     the device's certificate: one line naming the option (or the certificate), a non-zero exit,
//     no TAP device left behind, nothing registered.
// (b) Running with its own certificate, it sends frames from its TAP posing as the device (its
//     TAP's MAC changed to the device's; gratuitous ARP claiming the device's address, from the
//     device's MAC and from its own) and as the other member toward the device, and as the
//     device toward the other member: the device's and the other member's edges drop each
//     under its reason (/status drops), the other member's ARP entry for the device keeps the
//     device's MAC, and it still reaches the device.
import t from 'tap'
import { natLab, TAP, waitFor, type EdgeProcess, type NatLab, type Site } from '../fixtures/lab.js'
import { LabAuthority, supernodeStatus, type LabMember } from '../fixtures/lab-members.js'
import { arpBroadcast, ipv4Frame } from '../fixtures/frames.js'
import { sendFrames } from '../fixtures/raw-capture.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

/** Each hostile frame is sent this many times. */
const COPIES = 5

function macBytes(text: string): Buffer {
  return Buffer.from(text.replaceAll(':', ''), 'hex')
}

/** ipv4Frame with its header checksum set, so that nothing but its addresses is wrong with it. */
function checkedIpv4Frame(dst: string, src: string, srcIp: string, dstIp: string): Buffer {
  const frame = ipv4Frame(macBytes(dst), macBytes(src), srcIp, dstIp)
  let sum = 0
  for (let i = 14; i < 34; i += 2) sum += frame.readUInt16BE(i)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  frame.writeUInt16BE(~sum & 0xffff, 24)
  return frame
}


async function drops(edge: EdgeProcess): Promise<Record<string, number>> {
  return (await edge.status()).drops
}

/** An edge that must refuse to start: its exit and what it printed. */
async function refusedStart(lab: NatLab, site: Site, member: LabMember, label: string, extra: Partial<Parameters<NatLab['startEdge']>[1]>): Promise<{ code: number | null; lines: string[] }> {
  const edge = lab.startEdge(site, { address: member.address, cert: member.cert, identity: member.identity, ...extra }, label)
  const exit = await edge.waitExit(30_000)
  if (exit === null) await edge.stop('SIGKILL')
  return { code: exit?.code ?? null, lines: edge.lines.map((line) => line.replace(/^\+\d+\.\d+s /, '')) }
}

t.test('a technician with its own certificate cannot pose as the device', async (t) => {
  if (skipUnlessRoot(t, "authority mode: a technician's certificate does not let it pose as the device")) return
  const lab = await natLab(t)
  const authority = await LabAuthority.create(t)
  const [device, hostile, other] = await Promise.all([
    authority.issue('device', { address: '10.9.0.2/24', role: 'device' }),
    authority.issue('mallory', { address: '10.9.0.11/24', role: 'technician' }),
    authority.issue('trent', { address: '10.9.0.12/24', role: 'member' }),
  ])
  t.comment(`authority ${authority.communityId}: device ${device.mac} ${device.address}, mallory ${hostile.mac} ${hostile.address}, trent ${other.mac} ${other.address}`)
  const [deviceSite, hostileSite, otherSite] = [await lab.addPublicHost(), await lab.addPublicHost(), await lab.addPublicHost()]
  await lab.startSupernode()

  // (a) the hostile technician's edge started with claims its certificate does not make
  const [claimsMac, claimsIp, devicesCert] = await Promise.all([
    refusedStart(lab, hostileSite, hostile, 'mallory -m DEVICE_MAC', { extraArgs: ['-m', device.mac] }),
    refusedStart(lab, hostileSite, hostile, 'mallory -a DEVICE_IP', { extraArgs: ['-a', device.address] }),
    refusedStart(lab, hostileSite, { ...hostile, cert: device.cert }, "mallory --cert DEVICE'S", {}),
  ])
  for (const [what, result, code, pattern] of [
    ["its certificate and -m the device's MAC", claimsMac, 1, /--mac .*contradicts the certificate's MAC/],
    ["its certificate and -a the device's address", claimsIp, 1, /-a 10\.9\.0\.2\/24 contradicts the certificate's address 10\.9\.0\.11\/24/],
    ["the device's certificate with its own identity key", devicesCert, 7, /not for this identity/],
  ] as const) {
    t.comment(`mallory with ${what}: exit ${result.code}: ${result.lines.join(' | ')}`)
    t.equal(result.code, code, `${what}: exit code ${code}`)
    t.equal(result.lines.length, 1, `${what}: one line of output`)
    t.match(result.lines[0] ?? '', pattern, `${what}: the line names what is wrong`)
  }
  t.notOk(await lab.hasTap(hostileSite.ns), 'no TAP device was left behind by the refused starts')
  t.same((await supernodeStatus(lab)).edges, [], 'nothing registered with the supernode')

  // (b) everyone runs with their own certificates
  const deviceEdge = lab.startEdge(deviceSite, { address: device.address, cert: device.cert, identity: device.identity }, 'device')
  const hostileEdge = lab.startEdge(hostileSite, { address: hostile.address, cert: hostile.cert, identity: hostile.identity }, 'mallory')
  const otherEdge = lab.startEdge(otherSite, { address: other.address, cert: other.cert, identity: other.identity }, 'trent')
  for (const edge of [deviceEdge, hostileEdge, otherEdge]) t.ok((await edge.waitRegistered(30_000)).ok, `${edge.label} registered`)
  t.equal((await deviceEdge.status()).mac, device.mac, "the device's TAP has its certificate's MAC")
  // every pair meets (sessions, and the kernels' neighbour entries learned by ARP)
  for (const [from, to] of [[otherSite, device.ip], [hostileSite, device.ip], [hostileSite, other.ip]] as const) {
    const reply = await lab.firstReply(from.ns, to, 20_000)
    t.ok(reply.ok, `${from.label} reaches ${to}, ARP included (${reply.ms} ms)`)
  }

  const deviceBefore = await drops(deviceEdge)
  const otherBefore = await drops(otherEdge)
  // the kernel's own frames from a TAP whose MAC was changed to the device's (its ARP is broadcast)
  await lab.ip(hostileSite.ns, 'link', 'set', TAP, 'address', device.mac)
  const asDevice = await lab.ping(hostileSite.ns, device.ip, 3)
  await lab.ip(hostileSite.ns, 'link', 'set', TAP, 'address', hostile.mac)
  t.equal(asDevice.received, 0, `with the device's MAC on its TAP, mallory gets no answer from the device (${asDevice.received}/${asDevice.transmitted})`)
  // crafted frames: each a claim that mallory's certificate does not make
  const frames = [
    arpBroadcast(macBytes(device.mac), device.ip), // "10.9.0.2 is at the device's MAC", from that MAC
    arpBroadcast(macBytes(hostile.mac), device.ip), // "10.9.0.2 is at mallory's MAC": ARP poisoning
    checkedIpv4Frame(other.mac, hostile.mac, device.ip, other.ip), // to trent, from the device's address
    checkedIpv4Frame(device.mac, hostile.mac, other.ip, device.ip), // to the device, from trent's address
  ]
  const copies = frames.flatMap((frame) => Array<Buffer>(COPIES).fill(frame))
  const sent = await sendFrames(lab, hostileSite.ns, TAP, copies)
  t.equal(sent, copies.length, `mallory sent ${copies.length} crafted frames from its TAP`)

  type Drops = Record<string, number>
  const expected: [EdgeProcess, Drops, string, number][] = [
    [deviceEdge, deviceBefore, 'foreign-src-mac', COPIES + 1], // the gratuitous ARP, and the kernel's own frames from the changed MAC
    [deviceEdge, deviceBefore, 'foreign-arp-sender', COPIES],
    [deviceEdge, deviceBefore, 'foreign-src-ip', COPIES],
    [otherEdge, otherBefore, 'foreign-src-mac', COPIES],
    [otherEdge, otherBefore, 'foreign-arp-sender', COPIES],
    [otherEdge, otherBefore, 'foreign-src-ip', COPIES],
  ]
  const dropsNow = async (): Promise<Map<EdgeProcess, Drops>> => new Map([[deviceEdge, await drops(deviceEdge)], [otherEdge, await drops(otherEdge)]])
  const grown = (now: Map<EdgeProcess, Drops>, [edge, before, reason]: [EdgeProcess, Drops, string, number]): number => (now.get(edge)?.[reason] ?? 0) - (before[reason] ?? 0)
  const counted = await waitFor('every spoofed frame counted', async () => {
    const now = await dropsNow()
    return expected.every((e) => grown(now, e) >= e[3]) ? now : undefined
  }, 10_000)
  const after = counted.value ?? (await dropsNow())
  for (const e of expected) t.ok(grown(after, e) >= e[3], `${e[0].label} dropped mallory's frames as ${e[2]}: +${grown(after, e)} (at least ${e[3]})`)
  const tapOut = (await deviceEdge.status()).counters.tapFramesOut

  const neighbour = (await lab.exec(otherSite.ns, 'ip', ['neigh', 'show', device.ip, 'dev', TAP])).stdout.trim()
  t.comment(`trent's ARP entry for the device after the attack: ${neighbour}`)
  t.match(neighbour, new RegExp(`lladdr ${device.mac}`), "trent's kernel still has the device's MAC for its address")
  const stillReaches = await lab.ping(otherSite.ns, device.ip, 5)
  t.equal(stillReaches.received, 5, `trent still reaches the device: ${stillReaches.received}/${stillReaches.transmitted}`)
  t.ok((await deviceEdge.status()).counters.tapFramesOut > tapOut, "and its pings reached the device's host")
  const edges = (await supernodeStatus(lab)).edges
  t.same(edges.map((e) => e.name).sort(), ['device', 'mallory', 'trent'], 'the supernode lists each member once, under its own name')
  t.equal(edges.find((e) => e.name === 'device')?.mac, device.mac, "the device's MAC is registered to the device")
})
