// GET /api/events: the assistance state as server-sent events, for a monitoring GUI that wants to
// learn of a waiting technician as soon as the console does without polling. Each event is
// `event: assistance` with GET /api/assistance's body as its data: one at once, then one whenever
// something a person acts on changes (the session switched or extended, its settings, a
// technician appearing or changing state, path or address, a supernode registering or not).
// Counters that move all the time (bytes, lastSeenMs, the countdowns) are not events: they ride
// along in each event's data and stay for polling. A comment line every HEARTBEAT_MS keeps proxies
// from closing an idle stream. At most MAX_EVENT_STREAMS at once (429 beyond); a console session's
// stream ends when its login does, and a stream whose client stopped reading is ended.
import { PassThrough } from 'node:stream'
import type { Context } from 'koa'
import type { Clock, TimerHandle } from '../time/clock.js'
import type { AssistanceStatus } from './service.js'

/** How often the state is compared with what each stream was last sent. */
export const EVENT_CHECK_MS = 250
export const HEARTBEAT_MS = 15_000
export const MAX_EVENT_STREAMS = 8
/** A client this far behind (it stopped reading) loses its stream rather than the service its memory. */
const MAX_UNREAD_BYTES = 1024 * 1024
/** What an EventSource waits before it reconnects after the stream ends. */
const RETRY_MS = 2000

interface Stream {
  out: PassThrough
  /** the key of the last state sent */
  sent: string
  lastWrite: number
  /** false once the login it was opened with has ended (a console session); null for the bearer token */
  stillAllowed: (() => boolean) | null
}

/** What of the state makes an event: the fields a person acts on, not the counters. */
export function eventKey(status: AssistanceStatus): string {
  return JSON.stringify([
    status.enabled,
    status.since,
    status.expiresAt,
    status.consent,
    status.maxTechnicians,
    status.idleMinutes,
    status.allow,
    status.error,
    status.deviceName,
    status.supernodes.map((s) => [s.address, s.registered]),
    status.technicians.map((t) => [t.id, t.state, t.path, t.ip, t.name, t.decidedBy]),
  ])
}

export class EventStreams {
  private readonly streams = new Set<Stream>()
  private timer: TimerHandle | null = null

  constructor(
    private readonly state: () => AssistanceStatus,
    private readonly clock: Clock,
  ) {}

  /** Answers `ctx` with a stream of events; false (answer nothing) when MAX_EVENT_STREAMS are open. */
  start(ctx: Context, stillAllowed: (() => boolean) | null): boolean {
    if (this.streams.size >= MAX_EVENT_STREAMS) return false
    const out = new PassThrough()
    const stream: Stream = { out, sent: '', lastWrite: this.clock.now(), stillAllowed }
    this.streams.add(stream)
    // the stream lives as long as the client keeps it: no socket timeout, each event sent at once
    ctx.req.socket.setTimeout(0)
    ctx.req.socket.setNoDelay(true)
    ctx.status = 200
    ctx.type = 'text/event-stream'
    ctx.set('cache-control', 'no-store')
    // a buffering reverse proxy (nginx) would hold the events back
    ctx.set('x-accel-buffering', 'no')
    ctx.body = out
    const end = (): void => this.end(stream)
    ctx.req.once('close', end)
    out.once('close', end)
    out.write(`retry: ${RETRY_MS}\n\n`)
    this.send(stream, this.state())
    this.timer ??= this.clock.every(EVENT_CHECK_MS, () => this.check())
    return true
  }

  private check(): void {
    const now = this.clock.now()
    // the state and its key once per look, whatever the number of streams
    let current: { status: AssistanceStatus; key: string } | null = null
    for (const stream of [...this.streams]) {
      if (stream.stillAllowed !== null && !stream.stillAllowed()) {
        this.end(stream)
        continue
      }
      if (current === null) {
        const status = this.state()
        current = { status, key: eventKey(status) }
      }
      if (current.key !== stream.sent) this.send(stream, current.status, current.key)
      else if (now - stream.lastWrite >= HEARTBEAT_MS) this.write(stream, ': still here\n\n')
    }
  }

  private send(stream: Stream, status: AssistanceStatus, key = eventKey(status)): void {
    stream.sent = key
    this.write(stream, `event: assistance\ndata: ${JSON.stringify(status)}\n\n`)
  }

  private write(stream: Stream, text: string): void {
    if (stream.out.writableLength > MAX_UNREAD_BYTES) {
      this.end(stream)
      return
    }
    stream.lastWrite = this.clock.now()
    stream.out.write(text)
  }

  private end(stream: Stream): void {
    if (!this.streams.delete(stream)) return
    stream.out.end()
    if (this.streams.size === 0) {
      this.timer?.cancel()
      this.timer = null
    }
  }
}
