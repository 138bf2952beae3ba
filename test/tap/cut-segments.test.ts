// The TAP addon's cutting of TSO super-frames into segments (cut_segments in src/native/tap.c),
// called directly through the addon's test-only cutSegments export: what a read of a super-frame
// from the kernel hands to JavaScript. Each segment must be what the host's own TCP would have
// sent (lengths, IDs, sequence numbers, flags, checksums true), for untagged and 802.1Q-tagged
// frames, IPv4 with options and IPv6 with extension headers; anything it cannot cut is dropped
// and counted (a length beyond the buffer too). No device or root needed.
import t, { type Test } from 'tap'
import { addonPath, loadAddon } from '../../src/native/addon.js'
import { internetChecksum } from '../fixtures/tcp-frames.js'

interface CutResult {
  segments: Buffer[]
  batches: number[]
  dropped: number
}
interface CuttingAddon {
  batchFrames: number
  cutSegments(frame: Buffer, mss: number, mtu: number, firstSlot: number, reportedLength: number): CutResult
}

const MTU = 1400
/** the addon's super-frame buffer: 64 KB of IP, Ethernet and one 802.1Q tag */
const SUPER_FRAME_BYTES = 65_536 + 18
const TCP_FIN = 0x01
const TCP_PSH = 0x08
const TCP_ACK = 0x10
const TCP_CWR = 0x80
const ADDRESS_A = Buffer.from('fd000000000000000000000000000001', 'hex')
const ADDRESS_B = Buffer.from('fd000000000000000000000000000002', 'hex')

interface SuperFrameOptions {
  payload: Buffer
  ipv6?: boolean
  vlan?: number
  /** IPv4 options (a multiple of 4 bytes) */
  ipv4Options?: Buffer
  /** IPv6 extension headers, in order: [next-header number of this header, its bytes] */
  extensions?: [number, Buffer][]
  flags?: number
}

/** A super-frame as the host's TCP hands it over: one header, up to 64 KB of payload. */
function superFrame({ payload, ipv6 = false, vlan, ipv4Options = Buffer.alloc(0), extensions = [], flags = TCP_ACK | TCP_PSH }: SuperFrameOptions): Buffer {
  const ethernet = Buffer.alloc(vlan === undefined ? 14 : 18)
  Buffer.from('020000000002020000000001', 'hex').copy(ethernet)
  if (vlan !== undefined) {
    ethernet.writeUInt16BE(0x8100, 12)
    ethernet.writeUInt16BE(vlan, 14)
  }
  ethernet.writeUInt16BE(ipv6 ? 0x86dd : 0x0800, ethernet.length - 2)
  const tcp = Buffer.alloc(32)
  tcp.writeUInt16BE(40000, 0)
  tcp.writeUInt16BE(5201, 2)
  tcp.writeUInt32BE(0xfffff000, 4) // the segments wrap the sequence space
  tcp.writeUInt32BE(77, 8)
  tcp[12] = 8 << 4
  tcp[13] = flags
  tcp.writeUInt16BE(500, 14)
  tcp.set([1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 3], 20)
  let ip: Buffer
  if (ipv6) {
    const chain = Buffer.concat(extensions.map(([, bytes]) => bytes))
    ip = Buffer.alloc(40)
    ip[0] = 0x60
    ip.writeUInt16BE(chain.length + tcp.length + payload.length, 4)
    ip[6] = extensions[0]?.[0] ?? 6
    ip[7] = 64
    ADDRESS_A.copy(ip, 8)
    ADDRESS_B.copy(ip, 24)
    ip = Buffer.concat([ip, chain])
  } else {
    ip = Buffer.alloc(20 + ipv4Options.length)
    ip[0] = 0x40 | (ip.length / 4)
    ip.writeUInt16BE(ip.length + tcp.length + payload.length, 2)
    ip.writeUInt16BE(0xfffe, 4) // the IDs wrap too
    ip.writeUInt16BE(0x4000, 6)
    ip[8] = 64
    ip[9] = 6
    ip.set([10, 9, 0, 1, 10, 9, 0, 2], 12)
    ipv4Options.copy(ip, 20)
  }
  return Buffer.concat([ethernet, ip, tcp, payload])
}

/** An IPv6 extension header of `bytes` bytes (a multiple of 8) followed by header `next`. */
function extension(next: number, bytes = 8): Buffer {
  const h = Buffer.alloc(bytes)
  h[0] = next
  h[1] = bytes / 8 - 1
  h.set([1, bytes - 4], 2) // a PadN option filling the rest
  return h
}

/** Checks one cut segment as the receiving host would, and returns its TCP fields. */
function inspect(t: Test, segment: Buffer, at: { l3: number; l4: number; ipv6: boolean }, label: string): { seq: number; flags: number; id: number; payload: Buffer } {
  const { l3, l4, ipv6 } = at
  const headers = l4 + (segment[l4 + 12]! >> 4) * 4
  let pseudo: Buffer
  if (ipv6) {
    t.equal(segment.readUInt16BE(l3 + 4), segment.length - l3 - 40, `${label}: IPv6 payload length counts the extension headers`)
    pseudo = Buffer.concat([segment.subarray(l3 + 8, l3 + 40), Buffer.from([0, 0, 0, 0, 0, 0, 0, 6])])
  } else {
    t.equal(segment.readUInt16BE(l3 + 2), segment.length - l3, `${label}: IPv4 total length`)
    t.equal(internetChecksum(segment.subarray(l3, l4)), 0, `${label}: IPv4 header checksum holds`)
    pseudo = Buffer.concat([segment.subarray(l3 + 12, l3 + 20), Buffer.from([0, 6, 0, 0])])
  }
  // the upper-layer length: 16 bits of IPv4's pseudo-header, 32 of IPv6's (its high half 0 here)
  pseudo.writeUInt16BE(segment.length - l4, ipv6 ? 34 : 10)
  t.equal(internetChecksum(Buffer.concat([pseudo, segment.subarray(l4)])), 0, `${label}: TCP checksum holds`)
  return { seq: segment.readUInt32BE(l4 + 4), flags: segment[l4 + 13]!, id: ipv6 ? 0 : segment.readUInt16BE(l3 + 4), payload: segment.subarray(headers) }
}

const pattern = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 0xff))

const path = addonPath('overlan_tap')
const addon = path === null ? null : loadAddon<CuttingAddon>(path)

t.test('the TAP addon is built, so its cutting can be tested', (t) => {
  t.ok(addon !== null, 'src/native/build/Release/overlan_tap.node exists (npm ci builds it)')
  t.end()
})

const CASES = [
  { name: 'IPv4', options: {}, at: { l3: 14, l4: 34, ipv6: false } },
  { name: 'IPv4 with 8 bytes of options', options: { ipv4Options: Buffer.from([1, 1, 1, 0, 0x94, 4, 0, 0]) }, at: { l3: 14, l4: 42, ipv6: false } },
  { name: 'IPv4 under an 802.1Q tag', options: { vlan: 42 }, at: { l3: 18, l4: 38, ipv6: false } },
  { name: 'IPv6', options: { ipv6: true }, at: { l3: 14, l4: 54, ipv6: true } },
  { name: 'IPv6 under an 802.1Q tag', options: { ipv6: true, vlan: 7 }, at: { l3: 18, l4: 58, ipv6: true } },
  {
    name: 'IPv6 with hop-by-hop and destination options headers',
    options: { ipv6: true, extensions: [[0, extension(60)], [60, extension(6, 16)]] as [number, Buffer][] },
    at: { l3: 14, l4: 54 + 24, ipv6: true },
  },
  {
    name: 'IPv6 with a destination options header, under an 802.1Q tag',
    options: { ipv6: true, vlan: 42, extensions: [[60, extension(6)]] as [number, Buffer][] },
    at: { l3: 18, l4: 58 + 8, ipv6: true },
  },
]

for (const { name, options, at } of CASES) {
  t.test(`${name}: cut into segments the host would have sent, in order, with true checksums`, (t) => {
    if (addon === null) return t.end()
    const payload = pattern(5000)
    const frame = superFrame({ payload, ...options, flags: TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR })
    const headers = at.l4 + 32
    const mss = MTU + 18 - headers // as large as a slot allows
    const cut = addon.cutSegments(frame, mss, MTU, 0, frame.length)
    t.equal(cut.dropped, 0, 'nothing dropped')
    const expected = Math.ceil(payload.length / mss)
    t.equal(cut.segments.length, expected, `${expected} segments of ${mss} bytes`)
    const seen = cut.segments.map((s, i) => {
      t.equal(s.length, headers + Math.min(mss, payload.length - i * mss), `segment ${i}: length`)
      t.ok(s.subarray(0, at.l3).equals(frame.subarray(0, at.l3)), `segment ${i}: the Ethernet header (and tag) as it was`)
      if (at.l4 - at.l3 > 40 && at.ipv6) t.ok(s.subarray(at.l3 + 40, at.l4).equals(frame.subarray(at.l3 + 40, at.l4)), `segment ${i}: the extension headers as they were`)
      return inspect(t, s, at, `segment ${i}`)
    })
    t.ok(Buffer.concat(seen.map((s) => s.payload)).equals(payload), 'the payloads put back together are the payload sent')
    t.same(
      seen.map((s) => s.seq),
      seen.map((_, i) => (0xfffff000 + i * mss) >>> 0),
      'sequence numbers advance by the segment size (and wrap)',
    )
    if (!at.ipv6) t.same(seen.map((s) => s.id), seen.map((_, i) => (0xfffe + i) & 0xffff), 'IPv4 IDs count up from the first (and wrap)')
    t.same(
      seen.map((s) => s.flags),
      seen.map((_, i) => TCP_ACK | (i === 0 ? TCP_CWR : 0) | (i === seen.length - 1 ? TCP_PSH | TCP_FIN : 0)),
      'CWR on the first only, PSH and FIN on the last only',
    )
    t.end()
  })
}

t.test('a super-frame that fills the batch goes on in the next one, nothing lost', (t) => {
  if (addon === null) return t.end()
  const payload = pattern(10 * 1000)
  const frame = superFrame({ payload })
  const cut = addon.cutSegments(frame, 1000, MTU, addon.batchFrames - 3, frame.length)
  t.same(cut.batches, [3, 7], '3 segments in the slots left, 7 in the next batch')
  t.ok(Buffer.concat(cut.segments.map((s) => inspect(t, s, { l3: 14, l4: 34, ipv6: false }, 'segment').payload)).equals(payload), 'all the payload, in order')
  t.end()
})

t.test('what cannot be cut is dropped and counted, a length beyond the buffer included', (t) => {
  if (addon === null) return t.end()
  const good = superFrame({ payload: pattern(3000) })
  const withHeader = (edit: (f: Buffer) => void, base = good): Buffer => {
    const f = Buffer.from(base)
    edit(f)
    return f
  }
  const refused: [string, Buffer, number, number?][] = [
    ['a length beyond the super-frame buffer (no read returns one; the addon must not trust it)', good, 1000, SUPER_FRAME_BYTES + 1],
    ['a length that ends inside the headers', good, 1000, 60],
    ['a length that ends inside the Ethernet header', good, 1000, 10],
    ['headers and no payload', good.subarray(0, 66), 1000],
    ['a segment size of 0', good, 0],
    ['a segment size that would not fit a slot of MTU + 18', good, MTU - 20 - 32 + 18 - 14 + 1],
    ['UDP, not TCP', withHeader((f) => (f[23] = 17)), 1000],
    ['an IPv4 header length below 5 words', withHeader((f) => (f[14] = 0x44)), 1000],
    ['IPv4 EtherType with version 6 inside', withHeader((f) => (f[14] = 0x65)), 1000],
    ['a TCP data offset below 5 words', withHeader((f) => (f[46] = 4 << 4)), 1000],
    ['two 802.1Q tags (only one has room in a slot)', Buffer.concat([good.subarray(0, 12), Buffer.from([0x81, 0, 0, 1, 0x81, 0, 0, 2]), good.subarray(12)]), 1000],
    ['ARP', withHeader((f) => f.writeUInt16BE(0x0806, 12)), 1000],
    ['IPv6 with a routing header (its pseudo-header would need the final destination)', superFrame({ payload: pattern(3000), ipv6: true, extensions: [[43, extension(6)]] }), 1000],
    ['IPv6 with a fragment header', superFrame({ payload: pattern(3000), ipv6: true, extensions: [[44, extension(6)]] }), 1000],
    ['IPv6 with more extension headers than any stack sends', superFrame({ payload: pattern(3000), ipv6: true, extensions: [0, 1, 2, 3, 4].map((i) => [i === 0 ? 0 : 60, extension(i === 4 ? 6 : 60)]) }), 1000],
    ['IPv6 whose extension header runs past the end', superFrame({ payload: Buffer.alloc(0), ipv6: true, extensions: [[60, withHeader((f) => (f[1] = 200), extension(6))]] }), 1000],
  ]
  for (const [what, frame, mss, reported] of refused) {
    const cut = addon.cutSegments(frame, mss, MTU, 0, reported ?? frame.length)
    t.same({ segments: cut.segments.length, dropped: cut.dropped }, { segments: 0, dropped: 1 }, `${what}: dropped, counted`)
  }
  t.end()
})
