// `overlan status`: reads the local edge's management API (GET /status) and prints it as text,
// or as the edge's JSON with --json. Without --mgmt it looks where `overlan edge` and then
// `overlan assist` put their edge's management listener.
import { get } from 'node:http'
import type { CommandModule } from 'yargs'
import { DEFAULT_ASSIST_EDGE_MGMT } from '../assist/device-edge.js'
import { DEFAULT_EDGE_MGMT, type EdgeStatus } from '../edge/edge.js'
import { formatHostPort, parseHostPort, type HostPort } from '../net/address.js'
import { CliError, EXIT_NO_EDGE, EXIT_NOT_AN_EDGE } from './errors.js'
import { isEdgeStatus, isSupernodeStatus, statusLines } from './status-text.js'
import { COMMAND_DESCRIPTIONS } from './commands.js'

/** A loopback edge answers in milliseconds; this much only on a machine that is very busy. */
export const STATUS_TIMEOUT_MS = 3000
/** An edge's status lists at most 1,024 peers (a supernode's --max-edges), well under 1 MB: more is not an edge talking. */
const MAX_STATUS_BYTES = 8 * 1024 * 1024

/** A management address to ask, and what runs there in words (the first line of the text says it). */
export interface StatusPlace {
  address: HostPort
  what: string
}

/** Where `overlan status` looks when --mgmt is not given, in this order. */
export const DEFAULT_PLACES: readonly StatusPlace[] = [
  { address: DEFAULT_EDGE_MGMT, what: 'the edge of `overlan edge`' },
  { address: DEFAULT_ASSIST_EDGE_MGMT, what: "the assistance service's device edge (`overlan assist`)" },
]

interface StatusArgs {
  json: boolean
  mgmt?: string
}

/** What one management address gave: an edge's status, nothing (no listener), or something else. */
export type StatusAnswer = { kind: 'edge'; body: string; status: EdgeStatus } | { kind: 'nothing'; reason: string } | { kind: 'other'; reason: string }

export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status',
  describe: COMMAND_DESCRIPTIONS.status,
  builder: (y) =>
    y
      .option('json', { type: 'boolean', default: false, describe: "print the edge's /status JSON as it is (for scripts)" })
      .option('mgmt', {
        type: 'string',
        describe: `the edge's management host:port (default: ${formatHostPort(DEFAULT_EDGE_MGMT)}, then the assistance service's ${formatHostPort(DEFAULT_ASSIST_EDGE_MGMT)})`,
      })
      .example('$0 status', 'peers, paths and supernodes of the edge running on this host')
      .example('$0 status --mgmt 127.0.0.1:5650 --json', 'the status JSON of an edge started with --mgmt 127.0.0.1:5650')
      .epilog(`Exit codes: 0 shown; ${EXIT_NO_EDGE} no edge is running at the management address; ${EXIT_NOT_AN_EDGE} something else answered there.`),
  handler: async (args) => {
    const places = args.mgmt === undefined ? DEFAULT_PLACES : [{ address: mgmtOption(args.mgmt), what: 'the edge' }]
    const found = await findEdgeStatus(places)
    if (args.json) process.stdout.write(found.body.endsWith('\n') ? found.body : `${found.body}\n`)
    else process.stdout.write([`${found.place.what}, management on ${formatHostPort(found.place.address)}`, ...statusLines(found.status, Date.now())].join('\n') + '\n')
  },
}

/**
 * Asks each place in turn and returns the first edge's status. None: a CliError, EXIT_NOT_AN_EDGE
 * when something else answered somewhere, else EXIT_NO_EDGE naming every address and why.
 */
export async function findEdgeStatus(places: readonly StatusPlace[], timeoutMs = STATUS_TIMEOUT_MS): Promise<{ place: StatusPlace; body: string; status: EdgeStatus }> {
  const misses: { address: HostPort; answer: Exclude<StatusAnswer, { kind: 'edge' }> }[] = []
  for (const place of places) {
    const answer = await fetchStatus(place.address, timeoutMs)
    if (answer.kind === 'edge') return { place, body: answer.body, status: answer.status }
    misses.push({ address: place.address, answer })
  }
  const other = misses.find((m) => m.answer.kind === 'other')
  if (other) throw new CliError(`${formatHostPort(other.address)} ${other.answer.reason}; give the edge's management address with --mgmt`, EXIT_NOT_AN_EDGE)
  const where = misses.map((m) => `${formatHostPort(m.address)} (${m.answer.reason})`).join(' or ')
  throw new CliError(`no overlan edge is running on ${where}; start one with \`overlan edge\`, or give --mgmt`, EXIT_NO_EDGE)
}

function mgmtOption(value: string): HostPort {
  try {
    return parseHostPort(value, { host: DEFAULT_EDGE_MGMT.host })
  } catch (err) {
    throw new CliError(`--mgmt: ${(err as Error).message}`)
  }
}

/**
 * GET /status at one management address. The request's Host is that address, which the management
 * server accepts (it refuses other Host names, against DNS rebinding).
 */
export function fetchStatus(address: HostPort, timeoutMs = STATUS_TIMEOUT_MS): Promise<StatusAnswer> {
  return new Promise((resolve) => {
    const req = get({ host: address.host, port: address.port, path: '/status', agent: false, timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > MAX_STATUS_BYTES) {
          req.destroy()
          resolve({ kind: 'other', reason: `answered with more than ${MAX_STATUS_BYTES} bytes, not with an edge's status` })
        } else chunks.push(chunk)
      })
      res.on('end', () => resolve(classify(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))))
      res.on('error', (err) => resolve({ kind: 'other', reason: `broke off its answer (${errorText(err)})` }))
    })
    req.on('timeout', () => {
      req.destroy()
      resolve({ kind: 'other', reason: `sent no answer within ${timeoutMs / 1000} s` })
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      // a connection accepted and then dropped is something listening, just not an edge
      if (err.code === 'ECONNRESET') resolve({ kind: 'other', reason: `closed the connection without an answer (${errorText(err)})` })
      else resolve({ kind: 'nothing', reason: errorText(err) })
    })
  })
}

function classify(httpStatus: number, body: string): StatusAnswer {
  if (httpStatus !== 200) return { kind: 'other', reason: `answered with HTTP ${httpStatus}, not with an edge's status` }
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return { kind: 'other', reason: "answered with something that is not JSON, not with an edge's status" }
  }
  if (isEdgeStatus(value)) return { kind: 'edge', body, status: value }
  if (isSupernodeStatus(value)) return { kind: 'other', reason: "is a supernode's management API, not an edge's" }
  return { kind: 'other', reason: "answered with JSON that is not an edge's status" }
}

function errorText(err: NodeJS.ErrnoException): string {
  if (err.code === 'ECONNREFUSED') return 'connection refused'
  return err.code ?? err.message
}
