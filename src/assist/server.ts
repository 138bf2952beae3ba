// Brings the assistance service up: the state directory (0700) with its API token (0600), the
// audit log, an embedded supernode when none is given (UDP, and WebSocket on a listener of its own,
// never the console's, so that the demo shows the fallback), the service, and the HTTP listener.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { silentLogger, type Logger } from '../log/logger.js'
import { formatHostPort, type HostPort, type SupernodeHost } from '../net/address.js'
import { DEFAULT_WS_MAX_CONNECTIONS, DEFAULT_WS_MAX_PER_ADDRESS, WS_PATH } from '../net/ws-listener.js'
import { Supernode, type SupernodeWsConfig } from '../supernode/supernode.js'
import { systemClock, type Clock } from '../time/clock.js'
import type { NetcheckDeps } from '../netcheck/netcheck.js'
import type { OverlayAddress } from '../wire/index.js'
import { createApi } from './api.js'
import { AuditLog } from './audit-log.js'
import { AssistanceService, newApiToken, type AssistDeps, type StartDeviceEdge } from './service.js'
import type { StepObserver } from './steps.js'

export const API_TOKEN_FILE = 'api-token'
export const DEFAULT_ASSIST_LISTEN: HostPort = { host: '127.0.0.1', port: 8765 }
export const EMBEDDED_SUPERNODE: HostPort = { host: '127.0.0.1', port: 7654 }

export interface AssistServerConfig {
  listen: HostPort
  stateDir: string
  /** supernodes to use; empty: run one embedded on EMBEDDED_SUPERNODE */
  supernodes: SupernodeHost[]
  deviceIp: OverlayAddress
  /** the device's name in join tokens, certificates and the console (default DEFAULT_DEVICE_NAME) */
  deviceName?: string
  webDir: string
  embeddedSupernodePort?: number
  /** names the console and API answer to (Host header), besides the listen address and localhost on loopback */
  hostNames?: string[]
  /** the supernodes' WebSocket URLs, for join tokens and the connection test (at most 2); default: the embedded supernode's listener */
  fallbacks?: string[]
  /** the embedded supernode's WebSocket listener (its own, never the console's), on its loopback address; none when undefined */
  embeddedSupernodeWs?: EmbeddedWs
}

/** The embedded supernode's WebSocket listener: TCP `port` (0: any), TLS with a certificate, else plain. */
export interface EmbeddedWs {
  port: number
  tls: { cert: Buffer; key: Buffer } | null
}

export interface AssistServer {
  url: string
  tokenPath: string
  service: AssistanceService
  supernode: Supernode | null
  /** the fallback URLs in join tokens (given, or the embedded supernode's WebSocket listener) */
  fallbacks: string[]
  close(): Promise<void>
}

/** The API token: read from the state directory, or made and stored there (0600) at first start. */
export async function apiToken(stateDir: string): Promise<string> {
  const path = join(stateDir, API_TOKEN_FILE)
  try {
    const token = (await readFile(path, 'utf8')).trim()
    if (token.length >= 32) return token
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const token = newApiToken()
  await writeFile(path, token + '\n', { mode: 0o600 })
  await chmod(path, 0o600)
  return token
}

/** The listener on the embedded supernode's loopback address, with the supernode's default limits. */
function embeddedWsConfig(ws: EmbeddedWs | undefined): SupernodeWsConfig | null {
  if (ws === undefined) return null
  return { port: ws.port, bindAddress: EMBEDDED_SUPERNODE.host, tls: ws.tls, trustProxy: false, maxConnections: DEFAULT_WS_MAX_CONNECTIONS, maxPerAddress: DEFAULT_WS_MAX_PER_ADDRESS }
}

/** The embedded supernode's WebSocket URL, for tokens and the connection test; none without a listener. */
function embeddedFallback(supernode: Supernode | null, ws: EmbeddedWs | undefined): string[] {
  const tcpPort = supernode?.tcpPort ?? null
  if (tcpPort === null || ws === undefined) return []
  return [`${ws.tls === null ? 'ws' : 'wss'}://${formatHostPort({ host: EMBEDDED_SUPERNODE.host, port: tcpPort })}${WS_PATH}`]
}

export interface AssistServerDeps {
  startEdge: StartDeviceEdge
  clock?: Clock
  logger?: Logger
  /** told of each step of a state change (steps.ts), in the service and the audit log */
  onStep?: StepObserver
  /** how the connection test reaches the fallback URLs (the CLI's CA file and proxy) */
  netcheck?: NetcheckDeps
  /** --on-session-start / --on-session-end, and the environment they start from (hooks.ts) */
  hooks?: AssistDeps['hooks']
  hookEnv?: AssistDeps['hookEnv']
}

export async function startAssistServer(config: AssistServerConfig, deps: AssistServerDeps): Promise<AssistServer> {
  const clock = deps.clock ?? systemClock
  const logger = deps.logger ?? silentLogger
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 })
  await chmod(config.stateDir, 0o700)
  const token = await apiToken(config.stateDir)
  const audit = await AuditLog.open(config.stateDir, { onStep: deps.onStep })

  let supernode: Supernode | null = null
  let supernodes = config.supernodes
  if (supernodes.length === 0) {
    const port = config.embeddedSupernodePort ?? EMBEDDED_SUPERNODE.port
    supernode = await Supernode.start({ port, bindAddress: EMBEDDED_SUPERNODE.host, mgmt: null, ws: embeddedWsConfig(config.embeddedSupernodeWs) }, { clock, logger })
    supernodes = [{ host: EMBEDDED_SUPERNODE.host, port: supernode.port }]
    logger.info(`embedded supernode on UDP ${formatHostPort(supernodes[0]!)} (give -l HOST:PORT to use real ones)`)
  }
  const fallbacks = config.fallbacks !== undefined && config.fallbacks.length > 0 ? config.fallbacks : embeddedFallback(supernode, config.embeddedSupernodeWs)
  if (fallbacks.length > 0) logger.info(`fallback for networks that block UDP, in join tokens: ${fallbacks.join(' ')}`)

  const service = await AssistanceService.start({ stateDir: config.stateDir, supernodes, deviceIp: config.deviceIp, deviceName: config.deviceName, fallbacks }, { audit, startEdge: deps.startEdge, clock, logger, onStep: deps.onStep, netcheck: deps.netcheck, hooks: deps.hooks, hookEnv: deps.hookEnv })
  const app = createApi({ apiToken: token, webDir: config.webDir, service, clock, listenHost: config.listen.host, hostNames: config.hostNames })
  app.on('error', (err: NodeJS.ErrnoException) => {
    // an event stream (GET /api/events) ends when its client goes away: the stream's normal end
    if (err.code === 'ERR_STREAM_PREMATURE_CLOSE') return
    logger.error(`console: ${err.message}`)
  })
  const handle = app.callback()
  const server: Server = createServer((req, res) => void handle(req, res))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const url = `http://${formatHostPort({ host: address.address, port: address.port })}/`
  return {
    url,
    tokenPath: join(config.stateDir, API_TOKEN_FILE),
    service,
    supernode,
    fallbacks,
    async close() {
      await new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
      await service.shutdown()
      await supernode?.stop()
    },
  }
}
