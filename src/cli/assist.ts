// `overlan assist`: the remote-assistance service and its console.
import { hostname } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { CommandModule } from 'yargs'
import { DEFAULT_ASSIST_EDGE_MGMT, linuxDeviceEdge } from '../assist/device-edge.js'
import { MAX_DEVICE_NAME_BYTES, defaultDeviceName, deviceNameProblem, quotedName } from '../assist/device-name.js'
import { DEFAULT_DEVICE_NAME } from '../assist/service.js'
import { DEFAULT_ASSIST_LISTEN, EMBEDDED_SUPERNODE, startAssistServer, type EmbeddedWs } from '../assist/server.js'
import { MAX_TOKEN_FALLBACKS } from '../assist/join-token.js'
import { HOOK_TIMEOUT_MS } from '../assist/hooks.js'
import { ALL_STEPS, type StepObserver } from '../assist/steps.js'
import { tlsProber } from '../netcheck/tls-probe.js'
import { secretMemory } from '../crypto/secure-memory.js'
import { streamLogger } from '../log/logger.js'
import { formatHostPort, type HostPort } from '../net/address.js'
import { WS_PATH } from '../net/ws-listener.js'
import { DEFAULT_SUPERNODE_PORT } from '../supernode/defaults.js'
import { DEFAULT_EDGE_MTU } from './edge.js'
import { CliError } from './errors.js'
import { allowOption, caFile, fallbackOption, fallbackProxies, withFallbacks, hostNameList, listenAddress, logLevel, overlayAddress, pemFile, port, stopOnSignals, supernodeList } from './options.js'
import { COMMAND_DESCRIPTIONS } from './commands.js'

export const DEFAULT_DEVICE_IP = '10.99.0.1/24'
/** For fault tests only: the service kills itself with SIGKILL at this step (steps.ts). */
export const CRASH_AT_ENV = 'OVERLAN_CRASH_AT'
const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url))

interface AssistArgs {
  listen: string
  'state-dir': string
  supernode?: string[]
  device: string
  ip: string
  'device-name'?: string
  allow?: string
  'edge-mgmt': string
  'log-level': string
  'host-name'?: string[]
  fallback?: string[]
  'ca-file'?: string
  'supernode-tcp-port'?: string
  'supernode-tls-cert'?: string
  'supernode-tls-key'?: string
  'on-session-start'?: string
  'on-session-end'?: string
}

/** The embedded supernode's WebSocket port when --supernode-tcp-port is not given (TCP: no clash with its UDP 7654). */
export const DEFAULT_EMBEDDED_TCP_PORT = 7654

export const assistCommand: CommandModule<object, AssistArgs> = {
  command: 'assist',
  describe: COMMAND_DESCRIPTIONS.assist,
  builder: (y) =>
    y
      .option('listen', { type: 'string', default: formatHostPort(DEFAULT_ASSIST_LISTEN), describe: 'console and API host:port' })
      .option('state-dir', { type: 'string', default: process.getuid?.() === 0 ? '/var/lib/overlan' : '.overlan-assist', describe: 'where the API token, the state and the audit log live' })
      .option('supernode', { alias: 'l', type: 'string', array: true, describe: `supernode HOST:PORT, or HOST:7654,443 for every UDP port it answers on (repeat for several; the ports go into join tokens and the connection test asks each); none: run one on 127.0.0.1:${DEFAULT_SUPERNODE_PORT}` })
      .option('device', { alias: 'd', type: 'string', default: 'overlan%d', describe: "the device edge's TAP device name" })
      .option('ip', { type: 'string', default: DEFAULT_DEVICE_IP, describe: "the device's overlay address IP/PREFIX" })
      .option('device-name', { type: 'string', describe: `the device's name, as technicians see it when they join (in the join token and their certificate) and as the console shows it: at most ${MAX_DEVICE_NAME_BYTES} bytes of UTF-8, printable (default: this host's name, or "${DEFAULT_DEVICE_NAME}")` })
      .option('allow', { type: 'string', describe: 'only these reach the device from technicians, e.g. tcp/22,tcp/443,icmp' })
      .option('host-name', { type: 'string', array: true, describe: 'a further name the console and API answer to in the Host header (repeat for several); the listen address, and localhost on loopback, always work' })
      .option('edge-mgmt', { type: 'string', default: formatHostPort(DEFAULT_ASSIST_EDGE_MGMT), describe: "the device edge's management HTTP (GET /status, /metrics; read by `overlan status`) host:port, or \"off\"" })
      .option('supernode-tcp-port', {
        type: 'string',
        describe: `the embedded supernode also takes edges over WebSocket on 127.0.0.1 on this TCP port, path ${WS_PATH}, a listener of its own (default ${DEFAULT_EMBEDDED_TCP_PORT}; "off": none); its URL goes into join tokens unless --fallback is given`,
      })
      .option('supernode-tls-cert', { type: 'string', describe: "PEM certificate for the embedded supernode's WebSocket listener: TLS (wss://); plain ws:// without it" })
      .option('supernode-tls-key', { type: 'string', describe: 'PEM private key of --supernode-tls-cert' })
      .option('fallback', { type: 'string', array: true, describe: `the supernodes' WebSocket URL wss://HOST[:PORT]/overlan for networks that block UDP (at most ${MAX_TOKEN_FALLBACKS}, one per supernode): written into join tokens, checked by "Test connection", and used by the device's own edge when its network blocks UDP` })
      .option('ca-file', { type: 'string', describe: "PEM file of the CA that signed the fallback's certificate, for \"Test connection\" and the device's edge (default: the system's CAs)" })
      .option('on-session-start', {
        type: 'string',
        describe: `a shell command run when a session is switched on, with OVERLAN_SESSION_ID, OVERLAN_EXPIRES_AT and (admin access asked for) OVERLAN_ADMIN_PASSWORD in its environment; if it fails or runs over ${HOOK_TIMEOUT_MS / 1000} s, the session is switched off again (deploy/overlan-admin-hook.sh is an example)`,
      })
      .option('on-session-end', {
        type: 'string',
        describe: `a shell command run when a session ends (also one found over after a crash), with OVERLAN_SESSION_ID, OVERLAN_EXPIRES_AT and OVERLAN_SESSION_END_REASON; it may run more than once for a session; killed after ${HOOK_TIMEOUT_MS / 1000} s`,
      })
      .option('log-level', { type: 'string', default: 'info', describe: 'debug, info, warn, error or silent' }),
  handler: async (args) => {
    const logger = streamLogger(logLevel(args['log-level']))
    secretMemory.reportTo(logger)
    const listen = listenAddress('listen', args.listen, DEFAULT_ASSIST_LISTEN)
    if (listen === null) throw new CliError('--listen cannot be off: the service is its API')
    const deviceIp = overlayAddress('--ip', args.ip)
    const deviceName = deviceNameOption(args['device-name'])
    const allow = allowOption(args.allow)
    const edgeMgmt = listenAddress('edge-mgmt', args['edge-mgmt'], DEFAULT_ASSIST_EDGE_MGMT)
    const supernodes = supernodeList(args.supernode ?? [])
    const hostNames = hostNameList('--host-name', args['host-name'])
    const fallbacks = fallbackList(args.fallback ?? [], supernodes)
    const ca = caFile(args['ca-file'])
    const embeddedSupernodeWs = embeddedWs(args, supernodes.length > 0)
    const onStep = crashAtStep(process.env[CRASH_AT_ENV])
    const hooks = { onSessionStart: hookOption('--on-session-start', args['on-session-start']), onSessionEnd: hookOption('--on-session-end', args['on-session-end']) }
    const server = await startAssistServer(
      { listen, stateDir: args['state-dir'], supernodes, deviceIp, deviceName, webDir: WEB_DIR, hostNames, fallbacks, embeddedSupernodeWs },
      { startEdge: linuxDeviceEdge({ tapName: args.device, mtu: DEFAULT_EDGE_MTU, allow, mgmt: edgeMgmt, fallback: { ca, proxy: fallbackProxies(fallbacks.map((url) => new URL(url)), process.env) }, logger }), logger, onStep, netcheck: { probeTls: tlsProber({ ca, env: process.env }) }, hooks, hookEnv: process.env },
    ).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EADDRINUSE') throw new CliError(`cannot listen: ${formatHostPort(listen)}, the embedded supernode's UDP 7654 or its TCP ${embeddedSupernodeWs?.port ?? ''} is in use (--supernode-tcp-port off: no WebSocket listener)`)
      if (code === 'EACCES') throw new CliError(`cannot use the state directory ${args['state-dir']}: permission denied (give --state-dir)`)
      throw err
    })
    logger.info(`console on ${server.url}`)
    logger.info(`API token in ${server.tokenPath} (send it as Authorization: Bearer <token>; the console asks for it once)`)
    stopOnSignals(() => server.close())
  },
}

/**
 * --fallback: at most MAX_TOKEN_FALLBACKS URLs (tokens stay short); ws:// is allowed for a supernode
 * behind a TLS proxy on the same host. The device's edge uses them too, one per supernode (paired as
 * `overlan edge` pairs them), so they must pair with the supernodes now, not when a session starts.
 */
function fallbackList(values: string[], supernodes: HostPort[]): string[] {
  if (values.length > MAX_TOKEN_FALLBACKS) throw new CliError(`--fallback: at most ${MAX_TOKEN_FALLBACKS} URLs (a join token carries no more)`)
  const urls = values.map((value) => fallbackOption(value))
  withFallbacks(supernodes.length > 0 ? supernodes : [EMBEDDED_SUPERNODE], urls, true)
  return urls
}

/** --supernode-tcp-port and its TLS files: the embedded supernode's WebSocket listener, or none. */
function embeddedWs(args: AssistArgs, external: boolean): EmbeddedWs | undefined {
  const cert = args['supernode-tls-cert']
  const key = args['supernode-tls-key']
  const given = args['supernode-tcp-port']
  if (external) {
    if (given !== undefined || cert !== undefined || key !== undefined) throw new CliError('--supernode-tcp-port and --supernode-tls-* are for the embedded supernode: with -l, give --fallback URLs instead')
    return undefined
  }
  if ((cert === undefined) !== (key === undefined)) throw new CliError('--supernode-tls-cert and --supernode-tls-key go together: give both (PEM files) or neither')
  if (given === 'off') {
    if (cert !== undefined) throw new CliError('--supernode-tls-cert needs the WebSocket listener: not with --supernode-tcp-port off')
    return undefined
  }
  const tcpPort = given === undefined ? DEFAULT_EMBEDDED_TCP_PORT : port('supernode-tcp-port', given)
  return { port: tcpPort, tls: cert === undefined || key === undefined ? null : { cert: pemFile('--supernode-tls-cert', cert), key: pemFile('--supernode-tls-key', key) } }
}

/** --device-name, or this host's name (when it would do) by default. */
function deviceNameOption(value: string | undefined): string {
  if (value === undefined) return defaultDeviceName(hostname(), DEFAULT_DEVICE_NAME)
  const problem = deviceNameProblem(value)
  if (problem !== null) throw new CliError(`--device-name: ${quotedName(value)} cannot be the device's name (${problem}): give 1 to ${MAX_DEVICE_NAME_BYTES} bytes of printable text`)
  return value
}

/** A hook's command: a non-empty shell command line, or none. */
function hookOption(option: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  if (value.trim() === '') throw new CliError(`${option}: give a shell command (e.g. /usr/local/sbin/overlan-admin-hook.sh start)`)
  return value
}

/** The step observer for OVERLAN_CRASH_AT: a kill -9 exactly there, as the OOM killer or a stop timeout would. */
function crashAtStep(step: string | undefined): StepObserver | undefined {
  if (step === undefined || step === '') return undefined
  if (!ALL_STEPS.includes(step)) throw new CliError(`${CRASH_AT_ENV}: no step named ${JSON.stringify(step)} (one of ${ALL_STEPS.join(', ')})`)
  return (reached) => {
    if (reached === step) process.kill(process.pid, 'SIGKILL')
  }
}
