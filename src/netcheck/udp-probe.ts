// HELLO to many supernode ports from ONE local UDP socket, each answered by a COOKIE that says
// which public endpoint that port saw. One socket matters: the NAT check compares what different
// destinations saw of the same local port. No key is involved; HELLO is what an edge sends first.
import { randomBytes } from 'node:crypto'
import { createSocket, type Socket } from 'node:dgram'
import { PacketType, decodePacket, encodeHello, type Endpoint } from '../wire/index.js'

/** A lost datagram is sent again: this many HELLOs per target at most, spread over the timeout. */
export const HELLO_ATTEMPTS = 3

export interface UdpTarget {
  /** a resolved IP address */
  address: string
  port: number
}

export interface UdpAnswer {
  rttMs: number
  reflexive: Endpoint
  /** wall clock (ms) when the HELLO that was answered left, and when its COOKIE came */
  sentAtMs: number
  receivedAtMs: number
  /** the supernode's wall clock when it answered (COOKIE's time field), ms since the epoch */
  supernodeTimeMs: number
}

export interface UdpProbeResult {
  /** the local socket's port, null when it could not be bound */
  localPort: number | null
  /** per target, in the order given: its answer, or why there was none */
  answers: ({ ok: true; answer: UdpAnswer } | { ok: false; error: string })[]
}

interface Attempt {
  target: number
  sentAtMs: number
  sentMono: number
}

export async function probeUdp(targets: readonly UdpTarget[], family: 4 | 6, timeoutMs: number): Promise<UdpProbeResult> {
  const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 })
  const bindError = await new Promise<Error | null>((resolve) => {
    socket.once('error', resolve)
    socket.bind(0, () => resolve(null))
  })
  if (bindError !== null) {
    socket.close()
    return { localPort: null, answers: targets.map(() => ({ ok: false, error: `cannot open a UDP socket: ${bindError.message}` })) }
  }
  socket.on('error', () => {})
  try {
    return { localPort: socket.address().port, answers: await exchange(socket, targets, timeoutMs) }
  } finally {
    socket.close()
  }
}

function exchange(socket: Socket, targets: readonly UdpTarget[], timeoutMs: number): Promise<UdpProbeResult['answers']> {
  const answers: UdpProbeResult['answers'] = targets.map(() => ({ ok: false, error: `no answer within ${timeoutMs} ms` }))
  const answered = new Set<number>()
  // one nonce per HELLO: the COOKIE echoes it, so the round trip is that of the HELLO it answers
  const attempts = new Map<string, Attempt>()
  return new Promise((resolve) => {
    let round = 0
    const finish = (): void => {
      clearInterval(retry)
      clearTimeout(timer)
      resolve(answers)
    }
    const sendRound = (): void => {
      if (round++ >= HELLO_ATTEMPTS) return
      targets.forEach((target, index) => {
        if (answered.has(index)) return
        const nonce = randomBytes(8)
        attempts.set(nonce.toString('hex'), { target: index, sentAtMs: Date.now(), sentMono: performance.now() })
        socket.send(encodeHello(nonce), target.port, target.address, (err) => {
          // no route (e.g. IPv6 without a default route): this target cannot answer at all
          if (err && !answered.has(index)) answers[index] = { ok: false, error: err.message }
        })
      })
    }
    const retry = setInterval(sendRound, Math.max(1, Math.floor(timeoutMs / HELLO_ATTEMPTS)))
    const timer = setTimeout(finish, timeoutMs)
    socket.on('message', (msg, rinfo) => {
      const decoded = decodePacket(msg)
      if (!decoded.ok || decoded.value.type !== PacketType.Cookie) return
      const attempt = attempts.get(decoded.value.clientNonce.toString('hex'))
      if (attempt === undefined || answered.has(attempt.target)) return
      const target = targets[attempt.target]!
      // the answer must come from where the HELLO went (the supernode answers from the port asked)
      if (rinfo.port !== target.port || !sameAddress(rinfo.address, target.address)) return
      answered.add(attempt.target)
      answers[attempt.target] = {
        ok: true,
        answer: { rttMs: performance.now() - attempt.sentMono, reflexive: decoded.value.reflexive, sentAtMs: attempt.sentAtMs, receivedAtMs: Date.now(), supernodeTimeMs: decoded.value.serverTimeMs },
      }
      if (answered.size === targets.length) finish()
    })
    if (targets.length === 0) finish()
    else sendRound()
  })
}

function sameAddress(a: string, b: string): boolean {
  return a.replace(/^::ffff:/, '') === b.replace(/^::ffff:/, '')
}
