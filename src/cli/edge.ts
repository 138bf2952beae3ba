// `overlan edge`: join a virtual LAN on a TAP device, as with n2n's `edge`; or, with --join TOKEN,
// a remote-assistance session in one command.
import { readFileSync } from 'node:fs'
import type { CommandModule } from 'yargs'
import { decodeJoinToken } from '../assist/join-token.js'
import { destroyIdentity, type Identity } from '../crypto/identity.js'
import { secretMemory } from '../crypto/secure-memory.js'
import { Credentials, CredentialsError } from '../edge/credentials.js'
import { DEFAULT_EDGE_MGMT } from '../edge/defaults.js'
import type { EdgeConfig } from '../edge/edge.js'
import { UDP_HEAD_START_MS, UDP_RETRY_ON_FALLBACK_MS } from '../edge/supernode-link.js'
import { streamLogger } from '../log/logger.js'
import type { MgmtListen } from '../mgmt/server.js'
import { formatHostPort, parseHostPort, type HostPort } from '../net/address.js'
import { DEFAULT_SUPERNODE_PORT } from '../supernode/defaults.js'
import { DEFAULT_TAP_NAME } from '../tap/linux-tap.js'
import { systemClock } from '../time/clock.js'
import { ipFamily, isUnicastMac, parseMac } from '../wire/index.js'
import { parseForward } from '../edge/streams/forward.js'
import type * as LinuxEdgeModule from '../edge/linux-edge.js'
import type * as UserspaceEdgeModule from '../edge/streams/userspace-edge.js'
import type { UserspaceOptions } from '../edge/streams/userspace-edge.js'
import { CliError, EXIT_CERTIFICATE, EXIT_DENIED, EXIT_DEVICE, EXIT_SESSION_OVER, EXIT_USAGE } from './errors.js'
import { admittedConfig, enroll, joinIdentity, joinPlan, joinReach, joinSource, stoppedLine, type JoinPlan } from './edge-join.js'
import { readArmoredFile, readIdentityFile } from './key-files.js'
import { MAX_REKEY_AFTER_SECONDS, MIN_REKEY_AFTER_SECONDS, rekeyAfterLimits } from './rekey-after.js'
import { keepReceipts } from './receipt.js'
import { readRevocationsFile, watchRevocationsFile } from './revocations-file.js'
import { allowOption, caFile, fallbackProxies, logLevel, mgmtListen, overlayAddress, port, stopOnSignals, supernodeList, withFallbacks } from './options.js'
import { COMMAND_DESCRIPTIONS } from './commands.js'

/**
 * Fits a 1500-byte underlay, IPv6 included: 1390 + 14 Ethernet + 44 overlay + 8 UDP + 40 IPv6 = 1496,
 * so the outer datagram is never fragmented.
 */
export const DEFAULT_EDGE_MTU = 1390

interface EdgeArgs {
  community?: string
  key?: string
  'key-file'?: string
  address?: string
  supernode?: string[]
  device: string
  mac?: string
  mtu: number
  port: number
  mgmt: string
  'mgmt-host-name'?: string[]
  'relay-only': boolean
  'expires-at'?: string
  allow?: string
  join?: string
  'join-file'?: string
  name?: string
  cert?: string
  identity?: string
  revocations?: string
  fallback?: string[]
  'insecure-fallback'?: boolean
  'ca-file'?: string
  'log-level': string
  'rekey-after'?: number
  userspace?: boolean
  'accept-streams'?: boolean
  forward?: string[]
  socks5?: string
  target?: string
  'device-name'?: string[]
  'receipt-dir'?: string
}

export const edgeCommand: CommandModule<object, EdgeArgs> = {
  command: 'edge',
  describe: COMMAND_DESCRIPTIONS.edge,
  builder: (y) =>
    y
      .option('community', { alias: 'c', type: 'string', describe: 'community name (every member uses the same)' })
      .option('key', { alias: 'k', type: 'string', describe: 'community key; better: OVERLAN_KEY or --key-file, which stay out of ps' })
      .option('key-file', { type: 'string', describe: 'read the community key from this file' })
      .option('address', { alias: 'a', type: 'string', describe: 'overlay address IP/PREFIX (omit: the supernode assigns one)' })
      .option('supernode', { alias: 'l', type: 'string', array: true, describe: `supernode HOST:PORT (repeat for several; port ${DEFAULT_SUPERNODE_PORT} if omitted); HOST:7654,443 lists several UDP ports, all tried at once` })
      .option('fallback', {
        type: 'string',
        array: true,
        describe: `a supernode's WebSocket, wss://HOST[:PORT]/overlan, used by itself when UDP gets no answer within ${UDP_HEAD_START_MS / 1000} s (UDP is tried again every ${UDP_RETRY_ON_FALLBACK_MS / 1000} s); repeat for several: each goes to the -l with its host, else to the next -l without one; with a join token, replaces the token's. HTTPS_PROXY and NO_PROXY are honoured`,
      })
      .option('insecure-fallback', { type: 'boolean', default: false, describe: 'allow ws:// fallbacks (no TLS: only behind a reverse proxy you trust, or in a lab)' })
      .option('ca-file', { type: 'string', describe: "PEM file of the CA that signed the fallback's certificate (default: the system's CAs)" })
      .option('device', { alias: 'd', type: 'string', default: DEFAULT_TAP_NAME, describe: 'TAP device name' })
      .option('mac', { alias: 'm', type: 'string', describe: "MAC of the TAP device (default: derived from the identity key, so stable with --identity; with --cert, the certificate's)" })
      .option('mtu', { alias: 'M', type: 'number', default: DEFAULT_EDGE_MTU, describe: 'MTU of the TAP device' })
      .option('port', { alias: 'p', type: 'number', default: 0, describe: 'local UDP port (0: any)' })
      .option('mgmt', { type: 'string', default: formatHostPort(DEFAULT_EDGE_MGMT), describe: 'management HTTP (GET /status, /metrics) host:port, or "off"' })
      .option('mgmt-host-name', { type: 'string', array: true, describe: 'a further name the management listener answers to in the Host header (repeat for several); its address, and localhost on loopback, always work' })
      .option('relay-only', { type: 'boolean', default: false, describe: 'never try a direct path; everything through the supernode' })
      .option('expires-at', { type: 'string', describe: 'ISO 8601 time at which the edge removes its TAP and exits' })
      .option('allow', { type: 'string', describe: 'only these reach this host from the overlay, e.g. tcp/22,tcp/443,udp/53,icmp (replies to its own connections always pass)' })
      .option('join-file', { type: 'string', describe: "ask to join an assistance session with the token (ovl2.…) in this file (chmod 600 it); the device's owner admits you. Or OVERLAN_JOIN=TOKEN" })
      .option('join', { type: 'string', describe: 'the join token itself (visible to other local users in ps and the shell history: prefer --join-file or OVERLAN_JOIN)' })
      .option('name', { type: 'string', describe: "a name shown to the other members; with --join-file, what the device's owner sees (default user@host); with --cert, the certificate names the member" })
      .option('identity', { type: 'string', describe: 'this member\'s identity key file (from overlan keygen --identity FILE): the same place in the community after a restart (default: a new key each start)' })
      .option('cert', { type: 'string', describe: "the member certificate an authority issued for --identity's key (overlan ca issue): community, MAC, addresses and name come from it; give no -c, -k, -a or -m (or the certificate's own)" })
      .option('revocations', { type: 'string', describe: 'a file of revocations (overlan ca revoke keeps them in CA/revocations): each is sent to every supernode and again after each registration; re-read when it changes' })
      .option('log-level', { type: 'string', default: 'info', describe: 'debug, info, warn, error or silent' })
      .option('receipt-dir', { type: 'string', default: '.', describe: "where the device's signed end-of-session receipt is saved when it hands one over (check it with overlan receipt verify FILE)" })
      .option('rekey-after', {
        type: 'number',
        describe: `pair sessions make new keys after this many seconds (${MIN_REKEY_AFTER_SECONDS} to ${MAX_REKEY_AFTER_SECONDS}, the default); for labs that want to see rekeys under load`,
      })
      .option('userspace', { type: 'boolean', default: false, describe: 'no TAP device and no root: reach one member (--target) through --forward and --socks5 only (TCP only; no ping)' })
      .option('accept-streams', {
        type: 'boolean',
        default: false,
        describe: "accept members' userspace streams (--userspace technicians) to this host's ports --allow lists: they arrive through loopback, so host firewall rules on the TAP do not see them",
      })
      .option('forward', { type: 'string', array: true, describe: 'with --userspace: LOCAL:REMOTE listens on 127.0.0.1:LOCAL and carries each connection to the target\'s port REMOTE (repeat for several)' })
      .option('socks5', { type: 'string', describe: 'with --userspace: a SOCKS5 listener ADDR:PORT (e.g. 127.0.0.1:1080) for CONNECT to the target by address or --device-name; everything else is refused' })
      .option('target', { type: 'string', describe: "with --userspace: the overlay address --forward and --socks5 reach (the device's; default: the first --device-name's)" })
      .option('device-name', { type: 'string', array: true, describe: 'with --userspace: NAME=IP, a name SOCKS5 clients may use for an overlay address (e.g. device.overlan=10.9.0.1)' })
      .example('$0 edge -c lab -k secret -a 10.9.0.1/24 -l sn.example:7654', 'as n2n: community, key, address, supernode')
      .example('$0 edge -c lab -k secret -l sn.example:7654 --userspace --target 10.9.0.1 --forward 2222:22 --socks5 127.0.0.1:1080', 'no root: ssh -p 2222 localhost reaches the device\'s port 22')
      .example('OVERLAN_KEY=... $0 edge -c lab -l sn.example:7654', 'the key from the environment, an address from the supernode')
      .example('$0 edge -c lab -l sn.example:7654,443 --fallback wss://sn.example/overlan', 'UDP on two ports, TLS on 443 when UDP is blocked')
      .example('$0 edge --join-file token.txt --name "Alice (ACME support)"', "a technician asking to join a remote-assistance session: it waits until the device's owner admits it")
      .example('$0 edge --cert anna.crt --identity anna.key -l sn.example:7654', 'a member of an authority\'s community (overlan ca issue)')
      .epilog(
        `Exit codes: ${EXIT_USAGE} bad options (or options contradicting --cert); ${EXIT_DEVICE} the TAP device or the host's network settings; ${EXIT_DENIED} (--join-file) the device's owner denied the request; ${EXIT_CERTIFICATE} the certificate is not this identity's, has expired or is not valid yet, or a supernode refused it (expired by its clock, revoked); ${EXIT_SESSION_OVER} (--join-file) the session is over for this technician: disconnected by the owner, switched off, expired, or no more technicians admitted.`,
      ),
  handler: async (args) => {
    const logger = streamLogger(logLevel(args['log-level']))
    secretMemory.reportTo(logger)
    const tapName = args.device
    const mac = args.mac === undefined ? undefined : parseMac(args.mac)
    if (mac === null || (mac !== undefined && !isUnicastMac(mac))) throw new CliError(`--mac: "${args.mac}" is not a unicast MAC like 02:12:34:56:78:9a`)
    const mtu = Number(args.mtu)
    if (!Number.isInteger(mtu) || mtu < 576 || mtu > 9000) throw new CliError(`--mtu must be an integer from 576 to 9000, got ${args.mtu}`)
    // a technician with an ovl2 token asks the device's owner first
    const source = joinSource(args, process.env)
    if (source !== null) {
      for (const warning of source.warnings) logger.warn(warning)
      if (mac !== undefined) throw new CliError('--mac: the device chooses the MAC with the certificate: give no -m with a join token')
      const plan = joinPlan(source, args, Date.now())
      // the token names the device: a userspace technician reaches it without --target or --device-name
      const deviceIp = plan.token.deviceIp.address
      const userspace = userspaceOptions(args, { target: deviceIp, names: new Map([[plan.token.deviceHostName.toLowerCase(), deviceIp]]) })
      return technician(plan, args, { tapName, mtu, logger }, userspace)
    }
    const userspace = userspaceOptions(args)
    const config = edgeConfig(args, process.env)
    // before the TAP: it takes the certificate's MAC, and a certificate refused leaves no device behind
    const credentialsReady = edgeCredentials(config, mac)
    const { startLinuxEdge, startUserspaceEdge, DeviceError } = await edgeModules(credentialsReady)
    const credentials = await credentialsReady
    if (userspace !== null) {
      const edge = await startUserspaceEdge({ ...config, overlay: credentials.certificate.ipv4, credentials }, { ...userspace, logger }).catch((err: unknown) => {
        credentials.destroy()
        throw new CliError((err as Error).message)
      })
      edge.on('stopped', (why) => process.exit(why === 'certificate-refused' ? EXIT_CERTIFICATE : 0))
      if (config.mgmt) logger.info(`management on http://${formatHostPort(edge.mgmtAddress!)}/status and /metrics`)
      stopOnSignals(() => edge.stop('signal'))
      return
    }

    // the TAP gets the certificate's addresses: -a's, the authority's, or none yet (the supernode assigns one)
    const edge = await startLinuxEdge({ ...config, overlay: credentials.certificate.ipv4, credentials }, { tapName, mac: credentials.mac, mtu, logger, offerLanAddresses: true }).catch((err: unknown) => {
      credentials.destroy()
      if (err instanceof DeviceError) throw new CliError(err.message, EXIT_DEVICE)
      throw err
    })
    edge.on('stopped', (why) => {
      if (why === 'expired') logger.info('expired: the TAP device is removed and the edge exits')
      process.exit(why === 'certificate-refused' ? EXIT_CERTIFICATE : 0)
    })
    keepReceipts(edge, args['receipt-dir'] ?? '.', logger)
    if (config.mgmt) logger.info(`management on http://${formatHostPort(edge.mgmtAddress!)}/status and /metrics`)
    if (args.revocations !== undefined) {
      const watch = watchRevocationsFile(args.revocations, systemClock, (revocations) => edge.setRevocations(revocations), (problem) => logger.warn(problem))
      edge.on('stopped', () => watch.cancel())
    }
    stopOnSignals(() => edge.stop('signal'))
  },
}

/** A technician: asks to be admitted, then runs the edge the certificate received describes, until the session ends for it. */
async function technician(plan: JoinPlan, args: EdgeArgs, tap: { tapName: string; mtu: number; logger: ReturnType<typeof streamLogger> }, userspace: Omit<UserspaceOptions, 'logger'> | null): Promise<void> {
  const { logger } = tap
  // the token's fallbacks, for the enrollment and the edge alike (a technician whose UDP is blocked enrolls over TLS too)
  const reach = joinReach(plan, { insecure: args['insecure-fallback'] === true, ca: caFile(args['ca-file']), fallbacks: args.fallback }, process.env)
  const identity = joinIdentity(plan, readIdentityFile)
  const certificate = await enroll(plan, identity, logger, reach)
  const config = admittedConfig(plan, identity, certificate, commonOptions(args), reach)
  const credentialsReady = edgeCredentials(config, undefined)
  const { startLinuxEdge, startUserspaceEdge, DeviceError } = await edgeModules(credentialsReady)
  const credentials = await credentialsReady
  const ip = credentials.certificate.ipv4
  const deviceIp = plan.token.deviceIp.address
  const admitted = `admitted: this host is ${ip === null ? '(no address)' : `${ip.address}/${ip.prefix}`}`
  const device = `the device "${plan.token.deviceName}" is ${deviceIp} (${plan.token.deviceHostName})`
  if (userspace !== null) {
    // no TAP device: the forwards and the SOCKS5 listener are the way in (they print themselves)
    const edge = await startUserspaceEdge({ ...config, credentials }, { ...userspace, logger }).catch((err: unknown) => {
      credentials.destroy()
      throw new CliError((err as Error).message)
    })
    logger.info(`${admitted} (userspace, no TAP device); ${device}`)
    // the device hands each technician its signed receipt when the session ends
    keepReceipts(edge, args['receipt-dir'] ?? '.', logger)
    edge.on('stopped', (why) => {
      const { line, code } = stoppedLine(why)
      if (line !== null) logger.error(`${line}: the edge exits`)
      process.exit(code)
    })
    stopOnSignals(() => edge.stop('signal'))
    return
  }
  const edge = await startLinuxEdge({ ...config, credentials }, { tapName: tap.tapName, mac: credentials.mac, mtu: tap.mtu, logger, offerLanAddresses: true }).catch((err: unknown) => {
    credentials.destroy()
    if (err instanceof DeviceError) throw new CliError(err.message, EXIT_DEVICE)
    throw err
  })
  logger.info(`${admitted} on ${tap.tapName}; ${device}`)
  keepReceipts(edge, args['receipt-dir'] ?? '.', logger)
  edge.on('stopped', (why) => {
    const { line, code } = stoppedLine(why)
    if (line !== null) logger.error(`${line}: the TAP device is removed and the edge exits`)
    process.exit(code)
  })
  stopOnSignals(() => edge.stop('signal'))
}

/**
 * The data path's modules (~110 ms of loading and compiling here), imported while the credentials
 * are being made: with a community key that is an Argon2id derivation on libuv's thread pool
 * (~250 ms), so the two overlap instead of adding up in the edge's start-up. The credentials'
 * failure is awaited by the caller; until then it must not count as unhandled.
 */
async function edgeModules(credentialsReady: Promise<Credentials>): Promise<typeof LinuxEdgeModule & typeof UserspaceEdgeModule> {
  credentialsReady.catch(() => {})
  const [linux, userspace] = await Promise.all([import('../edge/linux-edge.js'), import('../edge/streams/userspace-edge.js')])
  return { ...linux, ...userspace }
}

/** What every kind of edge takes from the options alike: relay, management, port, allow rules, rekey times. */
function commonOptions(args: EdgeArgs): Pick<EdgeConfig, 'relayOnly' | 'bind' | 'allow' | 'sessionLimits'> & { mgmt: MgmtListen | null } {
  return {
    relayOnly: args['relay-only'],
    // the names ride along in the listen address: the edge hands it to MgmtServer as it is
    mgmt: mgmtListen(args.mgmt, args['mgmt-host-name'], DEFAULT_EDGE_MGMT),
    bind: { port: port('port', args.port) },
    allow: allowOption(args.allow),
    sessionLimits: args['rekey-after'] === undefined ? undefined : rekeyAfterLimits(args['rekey-after']),
  }
}

/**
 * --userspace and its listeners, checked; null without --userspace (whose options are then refused).
 * A join token names the device: its address is the target and its name a SOCKS5 name, unless the
 * options say otherwise.
 */
export function userspaceOptions(args: EdgeArgs, fromToken?: { target: string; names: Map<string, string> }): Omit<UserspaceOptions, 'logger'> | null {
  const forwards = args.forward ?? []
  if (args.userspace !== true) {
    const given = [forwards.length > 0 && '--forward', args.socks5 !== undefined && '--socks5', args.target !== undefined && '--target', args['device-name'] !== undefined && '--device-name'].filter(Boolean)
    if (given.length > 0) throw new CliError(`${given.join(', ')}: only with --userspace (a TAP edge reaches the overlay directly)`)
    return null
  }
  if (args['accept-streams'] === true) throw new CliError('--accept-streams: not with --userspace (a userspace edge has no services to carry streams to)')
  if (forwards.length === 0 && args.socks5 === undefined) throw new CliError('--userspace: give at least one --forward LOCAL:REMOTE or --socks5 ADDR:PORT (a userspace edge reaches the overlay only through them)')
  const names = new Map<string, string>(fromToken?.names)
  for (const item of args['device-name'] ?? []) {
    const match = /^([A-Za-z0-9.-]{1,63})=(\d{1,3}(?:\.\d{1,3}){3})$/.exec(item.trim())
    if (match === null || ipFamily(match[2]!) !== 4) throw new CliError(`--device-name: "${item}" is not NAME=IPv4, like device.overlan=10.9.0.1`)
    names.set(match[1]!.toLowerCase(), match[2]!)
  }
  const target = args.target ?? fromToken?.target ?? names.values().next().value
  if (target === undefined) throw new CliError('--userspace: give the overlay address to reach with --target IP (or a --device-name NAME=IP)')
  if (ipFamily(target) !== 4) throw new CliError(`--target: "${target}" is not an IPv4 overlay address`)
  let socks5: HostPort | null = null
  if (args.socks5 !== undefined) {
    try {
      socks5 = parseHostPort(args.socks5, { host: '127.0.0.1' })
    } catch (err) {
      throw new CliError(`--socks5: ${(err as Error).message}`)
    }
  }
  try {
    return { target, forwards: forwards.map(parseForward), socks5, names }
  } catch (err) {
    throw new CliError((err as Error).message)
  }
}

/**
 * The edge's identity and certificate, made before its TAP device. A certificate that does not fit
 * (another identity's, expired, not yet valid) is EXIT_CERTIFICATE; options that contradict it, a
 * usage error. The identity read from --identity is destroyed on a refusal.
 */
export async function edgeCredentials(config: EdgeConfig, mac: Buffer | undefined): Promise<Credentials> {
  try {
    return await Credentials.create({
      clock: systemClock,
      identity: config.identity,
      ...(config.certificate !== undefined ? { certificate: config.certificate } : { community: config.community, key: config.key }),
      mac,
      ipv4: config.overlay,
      name: config.name,
    })
  } catch (err) {
    if (config.identity !== undefined) destroyIdentity(config.identity)
    if (err instanceof CredentialsError) throw new CliError(`${config.certificate !== undefined ? '--cert: ' : ''}${err.message}`, err.kind === 'usage' ? EXIT_USAGE : EXIT_CERTIFICATE)
    throw err
  }
}

/** Turns the options (and OVERLAN_KEY) into an EdgeConfig; every refusal is one line naming the option. */
export function edgeConfig(args: EdgeArgs, env: NodeJS.ProcessEnv): EdgeConfig & { mgmt: MgmtListen | null } {
  let expiresAt: number | undefined
  if (args['expires-at'] !== undefined) {
    expiresAt = Date.parse(args['expires-at'])
    if (!Number.isFinite(expiresAt) || !/^\d{4}-\d\d-\d\dT/.test(args['expires-at'])) throw new CliError(`--expires-at: "${args['expires-at']}" is not an ISO 8601 time like 2026-11-24T18:00:00Z`)
    if (expiresAt <= Date.now()) throw new CliError(`--expires-at: ${args['expires-at']} is already past`)
  }
  const insecure = args['insecure-fallback'] === true
  // a join token may carry the fallbacks itself
  const fallbackGiven = Boolean(args.fallback?.length) || args.join !== undefined
  if (insecure && !fallbackGiven) throw new CliError('--insecure-fallback allows ws:// fallbacks: give them with --fallback')
  if (args['ca-file'] !== undefined && !fallbackGiven) throw new CliError('--ca-file checks the fallback\'s certificate: give the fallback with --fallback')
  const ca = caFile(args['ca-file'])
  const supernodesWithFallbacks = (supernodes: HostPort[], urls = args.fallback): EdgeConfig['supernodes'] => {
    const paired = withFallbacks(supernodes, urls, insecure)
    if (!paired.some((s) => s.fallback !== null)) return supernodes
    return paired
  }
  const fallbackOptions = (supernodes: EdgeConfig['supernodes']): EdgeConfig['fallback'] => ({ ca, proxy: fallbackProxies(supernodes.map((s) => s.fallback ?? null), env) })
  // announce: the host's neighbours on the overlay may remember the MAC of this device's previous run
  // streams reach this host's services through loopback, past firewall rules on the TAP: only when asked
  const common = { ...commonOptions(args), streams: { accept: args['accept-streams'] === true }, name: args.name, announce: true, revocations: args.revocations === undefined ? undefined : readRevocationsFile(args.revocations) }
  const withIdentity = <T extends object>(config: T): T & { identity?: Identity } => (args.identity === undefined ? config : { ...config, identity: readIdentityFile('--identity', args.identity) })

  if (args.cert !== undefined) {
    if (args.join !== undefined || args.community !== undefined || args.key !== undefined || args['key-file'] !== undefined) throw new CliError('--cert carries the community: give no --join, -c, -k or --key-file with it')
    if (args.identity === undefined) throw new CliError("--cert needs --identity FILE: the key the certificate was issued for (overlan keygen --identity FILE made it)")
    if (!args.supernode?.length) throw new CliError('give at least one supernode with -l HOST:PORT')
    const certificate = readArmoredFile('--cert', args.cert, 'certificate', false)
    const supernodes = supernodesWithFallbacks(supernodeList(args.supernode))
    return withIdentity({
      ...common,
      certificate,
      supernodes,
      fallback: fallbackOptions(supernodes),
      overlay: args.address !== undefined ? overlayAddress('-a', args.address) : null,
      expiresAt,
    })
  }

  if (args.join !== undefined) {
    if (args.community !== undefined || args.key !== undefined || args['key-file'] !== undefined) throw new CliError('--join carries community and key: give no -c, -k or --key-file with it')
    let token
    try {
      token = decodeJoinToken(args.join)
    } catch (err) {
      throw new CliError(`--join: ${(err as Error).message}`)
    }
    if (token.expiresAt <= Date.now()) throw new CliError(`--join: this session expired at ${new Date(token.expiresAt).toISOString()}; ask for a new token`)
    // the token's fallbacks unless --fallback is given; its ws:// ones only with --insecure-fallback
    const tokenUrls = (token.fallbacks ?? []).filter((url) => insecure || url.startsWith('wss:'))
    const supernodes = supernodesWithFallbacks(args.supernode?.length ? supernodeList(args.supernode) : token.supernodes, args.fallback?.length ? args.fallback : tokenUrls)
    return withIdentity({
      ...common,
      community: token.community,
      key: token.key,
      supernodes,
      fallback: fallbackOptions(supernodes),
      overlay: args.address !== undefined ? overlayAddress('-a', args.address) : null,
      expiresAt: Math.min(token.expiresAt, expiresAt ?? Infinity),
    })
  }

  if (args.community === undefined || args.community === '') throw new CliError('give the community with -c (or a token with --join)')
  if (Buffer.byteLength(args.community) > 64) throw new CliError('-c: the community name is at most 64 bytes')
  const keySources = [args.key !== undefined, args['key-file'] !== undefined].filter(Boolean).length
  if (keySources > 1) throw new CliError('give the key once: -k or --key-file')
  let key = args.key ?? env.OVERLAN_KEY
  if (args['key-file'] !== undefined) {
    try {
      key = readFileSync(args['key-file'], 'utf8').trim()
    } catch (err) {
      throw new CliError(`--key-file: cannot read ${args['key-file']}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  }
  if (key === undefined || key === '') throw new CliError('give the community key: -k KEY, --key-file FILE or OVERLAN_KEY')
  if (!args.supernode?.length) throw new CliError('give at least one supernode with -l HOST:PORT')
  const supernodes = supernodesWithFallbacks(supernodeList(args.supernode))
  return withIdentity({
    ...common,
    community: args.community,
    key,
    supernodes,
    fallback: fallbackOptions(supernodes),
    overlay: args.address !== undefined ? overlayAddress('-a', args.address) : null,
    expiresAt,
  })
}
