// IP address text <-> bytes, for the codec's endpoint and overlay-address fields.
// Node has no inet_pton, and net.isIP only says whether a string is valid.
import { isIPv4, isIPv6 } from 'node:net'

/** Writes the 4 bytes of a dotted-quad IPv4 address at `offset`. The caller has validated it with isIPv4. */
export function writeIPv4(address: string, out: Buffer, offset: number): void {
  out.writeUInt32BE(ipv4Value(address), offset)
}

const DOT = 0x2e
const DIGIT_ZERO = 0x30

/**
 * The 32-bit value of a dotted quad the caller has validated with isIPv4. Digit by digit, without
 * the strings split() makes: a registration parses its source address several times (0.05 µs
 * instead of 0.4 µs each).
 */
export function ipv4Value(address: string): number {
  let value = 0
  let octet = 0
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i)
    if (c === DOT) {
      value = value * 256 + octet
      octet = 0
    } else {
      octet = octet * 10 + (c - DIGIT_ZERO)
    }
  }
  return value * 256 + octet
}

export function formatIPv4(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`
}

/** Writes the 16 bytes of an IPv6 address (any valid text form, including embedded IPv4) at `offset`. */
export function writeIPv6(address: string, out: Buffer, offset: number): void {
  const zone = address.indexOf('%')
  const text = zone === -1 ? address : address.slice(0, zone)
  const words: number[] = []
  const halves = text.split('::')
  const head = halves[0] ? halves[0].split(':') : []
  const tail = halves.length > 1 && halves[1] ? halves[1].split(':') : []
  const toWords = (groups: string[]): number[] => {
    const result: number[] = []
    for (const group of groups) {
      if (group.includes('.')) {
        const v4 = Buffer.alloc(4)
        writeIPv4(group, v4, 0)
        result.push(v4.readUInt16BE(0), v4.readUInt16BE(2))
      } else {
        result.push(parseInt(group, 16))
      }
    }
    return result
  }
  const headWords = toWords(head)
  const tailWords = toWords(tail)
  words.push(...headWords)
  for (let i = headWords.length + tailWords.length; i < 8; i++) words.push(0)
  words.push(...tailWords)
  for (let i = 0; i < 8; i++) out.writeUInt16BE(words[i] ?? 0, offset + i * 2)
}

/** RFC 5952 text form: lower case, leading zeros dropped, the longest run (≥ 2) of zero words as "::". */
export function formatIPv6(buf: Buffer, offset: number): string {
  const words: number[] = []
  for (let i = 0; i < 8; i++) words.push(buf.readUInt16BE(offset + i * 2))
  let bestStart = -1
  let bestLength = 0
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && words[j] === 0) j++
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = words.map((w) => w.toString(16))
  if (bestStart === -1) return hex.join(':')
  const left = hex.slice(0, bestStart).join(':')
  const right = hex.slice(bestStart + bestLength).join(':')
  return `${left}::${right}`
}

const COLON = 0x3a
const HEAD = new Uint16Array(8)
const TAIL = new Uint16Array(8)

/**
 * The /64 an IPv6 address is in, as text ("2001:db8:0:1::/64"): the supernode counts every host of
 * a /64 as one source (a site is given a whole /64, so anyone holding one has 2^64 addresses).
 * Character by character, without the strings and arrays split() makes: the supernode's rate
 * limiter keys each control packet from an IPv6 source by it (~0.1 µs instead of ~1.7 µs through
 * writeIPv6 and formatIPv6). The address is one the kernel gave (valid); a zone ("%eth0") is kept,
 * since fe80::/64 on two links are two places.
 */
export function ipv6Prefix64(address: string): string {
  const zone = address.indexOf('%')
  const end = zone === -1 ? address.length : zone
  // the groups before "::" go to HEAD, those after it to TAIL (all of them to HEAD without "::")
  let words = HEAD
  let head = 0
  let count = 0
  let value = 0
  let digits = 0
  for (let i = 0; i < end; i++) {
    const c = address.charCodeAt(i)
    if (c === COLON) {
      if (digits > 0 && count < 8) words[count++] = value
      value = 0
      digits = 0
      if (i + 1 < end && address.charCodeAt(i + 1) === COLON && words === HEAD) {
        head = count
        words = TAIL
        count = 0
        i++
      }
    } else if (c === DOT) {
      // an embedded IPv4 address: the last 32 bits, two words that lie beyond the /64
      if (count < 7) {
        words[count++] = 0
        words[count++] = 0
      }
      digits = 0
      break
    } else {
      value = value * 16 + hexDigit(c)
      digits++
    }
  }
  if (digits > 0 && count < 8) words[count++] = value
  if (words === HEAD) head = count
  const tail = words === TAIL ? count : 0
  const zeros = 8 - head - tail
  const text = `${wordAt(0, head, zeros)}:${wordAt(1, head, zeros)}:${wordAt(2, head, zeros)}:${wordAt(3, head, zeros)}::/64`
  return zone === -1 ? text : `${text}${address.slice(zone)}`
}

/** Word j of the address parsed into HEAD and TAIL, with `zeros` words of "::" between them, in hex. */
function wordAt(j: number, head: number, zeros: number): string {
  return (j < head ? HEAD[j]! : j < head + zeros ? 0 : TAIL[j - head - zeros]!).toString(16)
}

function hexDigit(c: number): number {
  if (c <= 0x39) return c - 0x30
  return (c | 0x20) - 0x57
}

export function ipFamily(address: string): 4 | 6 | null {
  if (isIPv4(address)) return 4
  if (isIPv6(address)) return 6
  return null
}
