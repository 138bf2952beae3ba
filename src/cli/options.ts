// Option parsing shared by the commands: turns argv strings into checked values, each failure a
// one-line message that names the option.
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { parseAllow, type AllowRules } from '../edge/allow-filter.js'
import { MGMT_HOST_NAME_OPTION, type MgmtListen } from '../mgmt/server.js'
import { LOG_LEVELS, type LogLevel } from '../log/logger.js'
import { pairFallbacks, parseFallbackUrl, parseHostPort, parseSupernodeAddress, type HostPort, type SupernodeAddress } from '../net/address.js'
import { proxyFor, type ProxyConfig } from '../net/ws-connect.js'
import { DEFAULT_SUPERNODE_PORT } from '../supernode/defaults.js'
import { parseOverlayAddress, type OverlayAddress } from '../wire/index.js'
import { CliError } from './errors.js'

export function positiveInt(name: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof value === 'number' ? value : Number(value)
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer from 1 to ${max}, got ${String(value)}`)
  return n
}

export function port(name: string, value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name} must be a port from 0 to 65535, got ${String(value)}`)
  return n
}

/** "host:port", or "off" for no listener. */
export function listenAddress(name: string, value: string, defaults: HostPort): HostPort | null {
  if (value === 'off' || value === 'none') return null
  try {
    return parseHostPort(value, defaults)
  } catch (err) {
    throw new Error(`--${name}: ${(err as Error).message}`, { cause: err })
  }
}

/** --mgmt HOST:PORT (or "off") with --mgmt-host-name NAME...: the management listener, or null. */
export function mgmtListen(value: string, names: string[] | undefined, defaults: HostPort): MgmtListen | null {
  const listen = listenAddress('mgmt', value, defaults)
  const hostNames = hostNameList(MGMT_HOST_NAME_OPTION, names)
  return listen === null ? null : { ...listen, hostNames }
}

/** --host-name NAME (or --mgmt-host-name), repeated: names an HTTP listener answers to in the Host header. */
export function hostNameList(option: string, values: string[] | undefined): string[] {
  return (values ?? []).map((value) => {
    const name = value.trim()
    if (isIP(name) === 0 && !/^[A-Za-z0-9.-]+$/.test(name)) throw new CliError(`${option}: "${value}" is not a host name or address (give no port: any port is accepted)`)
    return name.toLowerCase()
  })
}

/** An overlay address option: "10.9.0.1/24". */
export function overlayAddress(option: string, value: string): OverlayAddress {
  const overlay = parseOverlayAddress(value)
  if (overlay === null) throw new CliError(`${option}: "${value}" is not an address like 10.9.0.1/24`)
  return overlay
}

/** -l HOST[:PORT[,PORT...]], repeated: each supernode with the UDP ports it answers on. */
export function supernodeList(values: string[]): SupernodeAddress[] {
  return values.map((value) => {
    try {
      return parseSupernodeAddress(value, DEFAULT_SUPERNODE_PORT)
    } catch (err) {
      throw new CliError(`-l: ${(err as Error).message}`)
    }
  })
}

/** --fallback URL (repeated) paired with the supernodes (by host, then in order); --insecure-fallback allows ws://. */
export function withFallbacks<T extends HostPort>(supernodes: T[], urls: string[] | undefined, insecure: boolean): (T & { fallback: URL | null })[] {
  try {
    return pairFallbacks(
      supernodes,
      (urls ?? []).map((text) => parseFallbackUrl(text, insecure)),
    )
  } catch (err) {
    throw new CliError(`--fallback: ${(err as Error).message}`)
  }
}

/** --ca-file PEM: the CA certificates a fallback's TLS is checked against instead of the system's. */
export function caFile(path: string | undefined): string | undefined {
  if (path === undefined) return undefined
  let pem: string
  try {
    pem = readFileSync(path, 'utf8')
  } catch (err) {
    throw new CliError(`--ca-file: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new CliError(`--ca-file: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`)
  return pem
}

/**
 * The proxy for each fallback, from HTTPS_PROXY / https_proxy (wss://), http_proxy (ws://) and
 * NO_PROXY in `env`; checked now, so that a malformed proxy variable is one line at start.
 */
export function fallbackProxies(urls: (URL | null)[], env: NodeJS.ProcessEnv): (url: URL) => ProxyConfig | null {
  for (const url of urls) {
    if (url === null) continue
    try {
      proxyFor(url, env)
    } catch (err) {
      throw new CliError(`${url.protocol === 'wss:' ? 'HTTPS_PROXY' : 'http_proxy'}: ${(err as Error).message}`)
    }
  }
  return (url) => proxyFor(url, env)
}

/** --allow SPEC, or null when not given. */
export function allowOption(spec: string | undefined): AllowRules | null {
  if (spec === undefined) return null
  try {
    return parseAllow(spec)
  } catch (err) {
    throw new CliError((err as Error).message)
  }
}

export function logLevel(value: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new Error(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${value}`)
  return value as LogLevel
}

/** Runs `stop` on SIGINT/SIGTERM once, then exits 0; a second signal exits at once. */
export function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false
  const onSignal = (): void => {
    if (stopping) process.exit(1)
    stopping = true
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`overlan: error while stopping: ${err instanceof Error ? err.message : String(err)}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
}

/**
 * --fallback URL: wss://HOST[:PORT]/overlan, or ws://. Accepted plain: netcheck sends only a HELLO
 * over it, and the assistance service's tokens may name a plain listener (behind a TLS proxy, or
 * the loopback demo); edges decide for themselves whether they use one.
 */
export function fallbackOption(text: string): string {
  try {
    return parseFallbackUrl(text, true).toString()
  } catch (err) {
    throw new CliError(`--fallback: ${(err as Error).message}`)
  }
}

/** The bytes of a PEM file named by `option` (a CA, a certificate, a key); a one-line error naming it. */
export function pemFile(option: string, path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new CliError(`${option}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}
