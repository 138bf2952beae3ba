// LinuxTap against the real kernel (root): a ping from inside a namespace is answered through
// the TAP device by this test (ARP and ICMP crafted here), plus settings, close, errors and batching.
// Network safety: every TAP carrying test traffic lives in a namespace the test created, and
// every namespace and device is removed at the end, whether the test passed or failed.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { openLinuxTap, TapError } from '../../src/tap/linux-tap.js'
import { childScript } from '../fixtures/child-script.js'
import { netnsLab, run } from '../fixtures/netns.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'
import { internetChecksum } from '../fixtures/tcp-frames.js'

// The pretend host on the far side of the TAP, answering ARP and ping in the namespace's subnet.
const TAP_CIDR = '10.77.0.1/24'
const PEER_IP = '10.77.0.2'
const PEER_MAC = Buffer.from('02aa00000002', 'hex')
const TAP_MAC = Buffer.from('02aa00000001', 'hex')
const ETHERTYPE_IPV4 = 0x0800
const ETHERTYPE_ARP = 0x0806
// IEEE 802 local experimental EtherType: the kernel ignores it, so only our sender makes it.
const ETHERTYPE_TEST = 0x88b5
const THROUGHPUT_FRAMES = 20_000
const THROUGHPUT_FRAME_BYTES = 1414

interface LinkJson {
  ifname: string
  mtu: number
  address: string
  stats64?: { tx: { packets: number; dropped: number } }
}

t.test('a ping from a namespace is answered through the TAP device', async (t) => {
  if (skipUnlessRoot(t, 'LinuxTap carries a ping both ways')) return
  const lab = netnsLab(t)
  const ns = await lab.addNamespace()
  const tap = await openLinuxTap({ name: lab.uniqueName('t'), mac: TAP_MAC, mtu: 1280 })
  t.teardown(() => tap.close())
  await tap.moveToNetns(ns)
  await tap.addAddress(TAP_CIDR)
  await tap.addAddress('fd77::1/64')

  const [link] = await lab.ipJson<LinkJson[]>(ns, ['link', 'show', 'dev', tap.name])
  t.equal(link?.mtu, 1280, 'MTU as requested')
  t.equal(link?.address, '02:aa:00:00:00:01', 'MAC as requested')
  t.same(tap.mac, TAP_MAC)
  const addresses = await tap.addresses()
  t.ok(addresses.includes(TAP_CIDR) && addresses.includes('fd77::1/64'), `addresses listed: ${addresses.join(' ')}`)

  const peer = { arpAnswered: 0, echoAnswered: 0, refused: 0 }
  const peerIp = ipv4Bytes(PEER_IP)
  tap.onFrame((frame) => {
    let reply: Buffer | null = null
    if (frame.readUInt16BE(12) === ETHERTYPE_ARP) {
      reply = arpReply(frame, peerIp, PEER_MAC)
      if (reply !== null) peer.arpAnswered++
    } else if (frame.readUInt16BE(12) === ETHERTYPE_IPV4) {
      reply = echoReply(frame, peerIp, PEER_MAC)
      if (reply !== null) peer.echoAnswered++
    }
    if (reply !== null && !tap.write(reply)) peer.refused++
  })

  const ping = await lab.exec(ns, 'ping', ['-c', '3', '-i', '0.2', '-W', '1', PEER_IP], { allowFailure: true })
  t.equal(ping.code, 0, 'ping exits 0')
  t.match(ping.stdout, /3 packets transmitted, 3 received/)
  t.ok(peer.arpAnswered >= 1, 'the kernel asked for the peer with ARP, read through onFrame')
  t.equal(peer.echoAnswered, 3, 'each echo request was read and answered')
  t.equal(peer.refused, 0, 'every write returned true')
  t.equal(tap.stats.writeRefused, 0)
})

t.test('close removes the device, and a second close is harmless', async (t) => {
  if (skipUnlessRoot(t, 'LinuxTap close removes the device')) return
  const lab = netnsLab(t)
  const ns = await lab.addNamespace()
  const tap = await openLinuxTap({ name: lab.uniqueName('t') })
  t.teardown(() => tap.close())
  await tap.moveToNetns(ns)

  const broadcast = Buffer.alloc(60)
  broadcast.fill(0xff, 0, 6)
  tap.mac.copy(broadcast, 6)
  broadcast.writeUInt16BE(ETHERTYPE_TEST, 12)
  t.equal(tap.write(broadcast), true, 'write to an open device returns true')
  t.throws(() => tap.write(Buffer.alloc(10)), RangeError, 'a frame shorter than an Ethernet header is a bug')

  await tap.close()
  const gone = await lab.exec(ns, 'ip', ['link', 'show', 'dev', tap.name], { allowFailure: true })
  t.not(gone.code, 0, 'the device is gone')
  t.match(gone.stderr, /does not exist/)
  await t.resolves(tap.close(), 'a second close is harmless')
  t.equal(tap.write(broadcast), false, 'write after close returns false')
})

t.test('a device deleted under the reader is reported through onError, and writes are refused', async (t) => {
  if (skipUnlessRoot(t, 'LinuxTap reports a deleted device')) return
  const lab = netnsLab(t)
  const ns = await lab.addNamespace()
  const tap = await openLinuxTap({ name: lab.uniqueName('t') })
  t.teardown(() => tap.close())
  await tap.moveToNetns(ns)
  const failure = new Promise<TapError>((resolve) => tap.onError(resolve))
  tap.onFrame(() => {})

  await lab.exec(ns, 'ip', ['link', 'del', 'dev', tap.name])
  t.match(await failure, { name: 'TapError', kind: 'other', message: new RegExp(`reading from TAP device ${tap.name} failed`) })
  t.equal(tap.write(Buffer.alloc(60)), false, 'a write to the deleted device is refused, not thrown')
  t.equal(tap.stats.writeRefused, 1, 'and counted')
})

t.test('defaults: a kernel-chosen name, a random local unicast MAC, MTU 1400', async (t) => {
  if (skipUnlessRoot(t, 'LinuxTap defaults')) return
  const tap = await openLinuxTap()
  t.teardown(() => tap.close())
  t.match(tap.name, /^overlan\d+$/)
  t.equal(tap.mac.length, 6)
  t.equal(tap.mac[0]! & 0x03, 0x02, 'locally administered, unicast')
  t.equal(tap.mtu, 1400)
  await tap.close()
  const gone = await run('ip', ['link', 'show', 'dev', tap.name], { allowFailure: true })
  t.not(gone.code, 0, 'closing removed it from the host namespace')
})

t.test('opening fails with a message that names the fix', async (t) => {
  if (skipUnlessRoot(t, 'LinuxTap open errors')) return
  const lab = netnsLab(t)

  await t.rejects(openLinuxTap({ name: 'bad/name' }), { name: 'TapError', kind: 'other', message: /invalid TAP device name "bad\/name"/ })
  await t.rejects(openLinuxTap({ name: 'a-name-of-16-chr' }), { kind: 'other', message: /at most 15 characters/ })
  await t.rejects(openLinuxTap({ mtu: 40 }), { kind: 'other', message: /invalid TAP MTU 40/ })
  await t.rejects(openLinuxTap({ mac: Buffer.from('010000000001', 'hex') }), { kind: 'other', message: /unicast/ })
  await t.rejects(openLinuxTap({ name: 'lo' }), { kind: 'busy', code: 'EEXIST', message: /lo: an interface with that name exists and is not a TAP/ })

  const name = lab.uniqueName('t')
  const first = await openLinuxTap({ name })
  t.teardown(() => first.close())
  const second = openLinuxTap({ name })
  await t.rejects(second, { kind: 'busy', code: 'EBUSY', message: `cannot create TAP device ${name}: the name is in use by another TAP device` })
  await second.catch((error: unknown) => t.type(error, TapError, 'a TapError, for the CLI to print'))
  await first.close()
})

t.test('without CAP_NET_ADMIN or without /dev/net/tun, the error says what to do', async (t) => {
  if (skipUnlessRoot(t, 'LinuxTap permission and missing-tun errors')) return
  const { path: child, loader } = childScript(fileURLToPath(new URL('./open-tap-child.ts', import.meta.url)))
  if (child.endsWith('.ts') && loader.length === 0) {
    t.pass('no TypeScript loader to hand to a child process', { skip: 'not run by tap' })
    return
  }
  const lab = netnsLab(t)

  // root without CAP_NET_ADMIN in its bounding set: /dev/net/tun opens, TUNSETIFF is refused
  const noCap = await runJson('setpriv', ['--bounding-set=-net_admin', '--inh-caps=-net_admin', process.execPath, ...loader, child, lab.uniqueName('t')])
  t.match(noCap, { opened: false, kind: 'permission', code: 'EPERM', message: /run as root or grant CAP_NET_ADMIN/ })

  // a private mount namespace where /dev/net is empty, as on a machine without the tun module
  const script = 'mount -t tmpfs none /dev/net && exec "$@"'
  const noTun = await runJson('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', process.execPath, ...loader, child])
  t.match(noTun, { opened: false, kind: 'no-tun', code: 'ENOENT', message: /tun module is missing \(modprobe tun\)/ })
})

t.test('frames arrive in batches (throughput, printed, not asserted)', async (t) => {
  if (skipUnlessRoot(t, 'LinuxTap batch reading')) return
  const lab = netnsLab(t)
  const ns = await lab.addNamespace()
  const tap = await openLinuxTap({ name: lab.uniqueName('t'), mtu: 1500 })
  t.teardown(() => tap.close())
  await tap.moveToNetns(ns)
  // room in the TAP's queue for every frame, so that none is dropped before the test reads
  await lab.exec(ns, 'ip', ['link', 'set', 'dev', tap.name, 'txqueuelen', String(THROUGHPUT_FRAMES + 1000)])

  // queue every frame first, then read: the rate measured is the device's, not the sender's
  const droppedBefore = await txDropped()
  const sent = await lab.exec(ns, 'python3', ['-c', RAW_SENDER, tap.name, String(THROUGHPUT_FRAMES), String(THROUGHPUT_FRAME_BYTES)])
  const allQueued = t.equal(sent.stdout.trim(), `sent ${THROUGHPUT_FRAMES} failed 0`, 'the sender queued every frame')
  // (the count may already be 1 or 2: IPv6 chatter while the device moved between namespaces)
  const noneDropped = t.equal((await txDropped()) - droppedBefore, 0, 'the kernel dropped none of them')
  if (!allQueued || !noneDropped) return // waiting for every frame would only time out

  async function txDropped(): Promise<number> {
    const [link] = await lab.ipJson<LinkJson[]>(ns, ['-s', 'link', 'show', 'dev', tap.name])
    return link?.stats64?.tx.dropped ?? NaN
  }

  let received = 0
  let bytes = 0
  const started = process.hrtime.bigint()
  await new Promise<void>((resolve) => {
    tap.onFrame((frame) => {
      if (frame.readUInt16BE(12) !== ETHERTYPE_TEST) return
      received++
      bytes += frame.length
      if (received === THROUGHPUT_FRAMES) resolve()
    })
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  t.equal(received, THROUGHPUT_FRAMES, 'every frame arrived')
  t.equal(bytes, THROUGHPUT_FRAMES * THROUGHPUT_FRAME_BYTES, 'whole frames')
  t.ok(tap.stats.largestBatch > 1, `frames came in batches (largest ${tap.stats.largestBatch})`)
  t.comment(
    `read ${received} frames of ${THROUGHPUT_FRAME_BYTES} bytes in ${(seconds * 1000).toFixed(1)} ms: ` +
      `${Math.round(received / seconds)} frames/s, ${tap.stats.batches} batches, largest ${tap.stats.largestBatch}`,
  )
})

// Sends argv[2] frames of argv[3] bytes with the test EtherType out of interface argv[1].
const RAW_SENDER = `
import socket, sys
ifname, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
frame = bytes.fromhex('02aa00000002') + bytes.fromhex('02aa00000003') + (${ETHERTYPE_TEST}).to_bytes(2, 'big')
frame += bytes(size - len(frame))
sent = failed = 0
for _ in range(count):
    try:
        s.send(frame)
        sent += 1
    except OSError:
        failed += 1
print('sent', sent, 'failed', failed)
`

function runJson(command: string, args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(stdout))
      } catch {
        reject(new Error(`${command} exited ${code} without JSON: ${stdout}${stderr}`))
      }
    })
  })
}

// --- the far side's frames, built here because only this test plays a host ---

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number))
}

/** The ARP reply to a request for `ip`, or null when the frame is not one. */
function arpReply(frame: Buffer, ip: Buffer, mac: Buffer): Buffer | null {
  // Ethernet 14 | htype 2 | ptype 2 | hlen 1 | plen 1 | op 2 | sha 6 | spa 4 | tha 6 | tpa 4
  if (frame.length < 42 || frame.readUInt16BE(20) !== 1 || !frame.subarray(38, 42).equals(ip)) return null
  const reply = Buffer.alloc(42)
  frame.copy(reply, 0, 6, 12) // to the asker
  mac.copy(reply, 6)
  reply.writeUInt16BE(ETHERTYPE_ARP, 12)
  frame.copy(reply, 14, 14, 20) // same hardware and protocol types and sizes
  reply.writeUInt16BE(2, 20)
  mac.copy(reply, 22)
  ip.copy(reply, 28)
  frame.copy(reply, 32, 22, 32) // the asker's MAC and IP become the target
  return reply
}

/** The ICMP echo reply to an echo request for `ip`, or null when the frame is not one. */
function echoReply(frame: Buffer, ip: Buffer, mac: Buffer): Buffer | null {
  const ipStart = 14
  if (frame.length < ipStart + 20 || frame[ipStart]! >> 4 !== 4) return null
  const headerBytes = (frame[ipStart]! & 0x0f) * 4
  const totalBytes = frame.readUInt16BE(ipStart + 2)
  const icmpStart = ipStart + headerBytes
  if (frame[ipStart + 9] !== 1 || !frame.subarray(ipStart + 16, ipStart + 20).equals(ip)) return null
  if (frame.length < ipStart + totalBytes || frame[icmpStart] !== 8) return null

  const reply = Buffer.from(frame.subarray(0, ipStart + totalBytes))
  frame.copy(reply, 0, 6, 12)
  mac.copy(reply, 6)
  frame.copy(reply, ipStart + 12, ipStart + 16, ipStart + 20) // swap source and destination
  frame.copy(reply, ipStart + 16, ipStart + 12, ipStart + 16)
  reply[ipStart + 8] = 64
  reply.writeUInt16BE(0, ipStart + 10)
  reply.writeUInt16BE(internetChecksum(reply.subarray(ipStart, icmpStart)), ipStart + 10)
  reply[icmpStart] = 0 // echo reply, same code, identifier, sequence and data
  reply.writeUInt16BE(0, icmpStart + 2)
  reply.writeUInt16BE(internetChecksum(reply.subarray(icmpStart, ipStart + totalBytes)), icmpStart + 2)
  return reply
}
