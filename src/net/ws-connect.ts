// Opens the WebSocket an edge (or `overlan netcheck`) uses when UDP to a supernode is blocked:
// wss://HOST[:PORT]/overlan with the system CAs or a private one, optionally through an HTTP proxy's
// CONNECT tunnel. Each stage is done here, in order, so that a failure names the one that failed
// (DNS, TCP, proxy, TLS, the HTTP upgrade) in one line with the URL; `ws` then speaks WebSocket on
// the ready socket (no framing written here). The caller gives everything: this module reads no
// environment and no file (proxyFor() turns an environment the caller hands in into a proxy).
import { lookup } from 'node:dns/promises'
import { request, STATUS_CODES } from 'node:http'
import { connect as netConnect, isIP, type Socket } from 'node:net'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import type WebSocket from 'ws'
import { formatHostPort } from './address.js'

/** Connecting (every stage together) gives up after this long: a blocked port often drops silently. */
export const WS_CONNECT_TIMEOUT_MS = 5_000
/**
 * Largest message accepted from the supernode: one datagram of the protocol (MAX_PACKET_BYTES) with
 * room to spare; ws closes the connection on anything larger (close code 1009).
 */
export const WS_MAX_MESSAGE_BYTES = 4096

export type WsConnectStage = 'dns' | 'tcp' | 'proxy' | 'tls' | 'upgrade' | 'timeout'

export class WsConnectError extends Error {
  constructor(
    readonly stage: WsConnectStage,
    message: string,
  ) {
    super(message)
    this.name = 'WsConnectError'
  }
}

export interface ProxyConfig {
  host: string
  port: number
  /** "user:password" from the proxy URL, sent as Proxy-Authorization: Basic */
  auth: string | null
  /** as given, without the credentials (for messages) */
  label: string
}

export interface WsConnectOptions {
  /** wss://HOST[:PORT]/overlan, or ws:// (the caller decides whether plain is allowed) */
  url: URL
  /** PEM of the CAs to trust instead of the system's (a private CA) */
  ca?: string | Buffer
  /** the HTTP proxy to tunnel through with CONNECT, or null/undefined for a direct connection */
  proxy?: ProxyConfig | null
  timeoutMs?: number
}

/** An open WebSocket, plus what the connection went through (for /status and netcheck). */
export interface WsConnection {
  socket: WebSocket
  secure: boolean
  /** where the TCP connection went (the proxy's address when there is one), as host:port */
  remote: string
  remoteAddress: string
  remotePort: number
  viaProxy: string | null
}

/**
 * The proxy for this URL from an environment (curl's rules): wss:// uses HTTPS_PROXY/https_proxy,
 * ws:// uses http_proxy/HTTP_PROXY; NO_PROXY/no_proxy lists hosts ("*" for all, a domain matches
 * its subdomains, an optional :port). Only http:// proxies (CONNECT over plain HTTP) are supported.
 */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv): ProxyConfig | null {
  const text = url.protocol === 'wss:' ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.http_proxy ?? env.HTTP_PROXY)
  if (text === undefined || text === '') return null
  if (noProxy(url, env.NO_PROXY ?? env.no_proxy ?? '')) return null
  return parseProxyUrl(text)
}

/** "http://[user:password@]host[:port]" → ProxyConfig; a one-line error otherwise. */
export function parseProxyUrl(text: string): ProxyConfig {
  let url: URL
  try {
    url = new URL(text.includes('://') ? text : `http://${text}`)
  } catch {
    throw new RangeError(`proxy "${text}" is not a URL like http://proxy.example:3128`)
  }
  if (url.protocol !== 'http:') throw new RangeError(`proxy "${url.protocol}//${url.host}": only http:// proxies are supported (CONNECT over plain HTTP)`)
  if (url.hostname === '') throw new RangeError(`proxy "${text}" has no host`)
  const host = unbracket(url.hostname)
  const port = url.port === '' ? 80 : Number(url.port)
  const auth = url.username !== '' || url.password !== '' ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : null
  return { host, port, auth, label: `http://${formatHostPort({ host, port })}` }
}

function noProxy(url: URL, list: string): boolean {
  const host = unbracket(url.hostname).toLowerCase()
  const port = url.port === '' ? (url.protocol === 'wss:' ? '443' : '80') : url.port
  for (const raw of list.split(',')) {
    let entry = raw.trim().toLowerCase()
    if (entry === '') continue
    if (entry === '*') return true
    const portMatch = /^(.*):(\d+)$/.exec(entry)
    if (portMatch && !entry.endsWith(']') && isIP(entry) === 0) {
      if (portMatch[2] !== port) continue
      entry = portMatch[1]!
    }
    entry = unbracket(entry.replace(/^\*?\./, '.'))
    if (entry.startsWith('.') ? host.endsWith(entry) || host === entry.slice(1) : host === entry || host.endsWith(`.${entry}`)) return true
  }
  return false
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}

/** Opens the WebSocket, or rejects with a WsConnectError naming the URL and the stage that failed. */
export async function connectWebSocket(options: WsConnectOptions): Promise<WsConnection> {
  const { url, proxy } = options
  const secure = url.protocol === 'wss:'
  const host = unbracket(url.hostname)
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port)
  const target = formatHostPort({ host, port })
  const where = `${url.protocol}//${target}${url.pathname}`
  const timeoutMs = options.timeoutMs ?? WS_CONNECT_TIMEOUT_MS
  let stage: WsConnectStage = 'dns'
  // every socket made on the way (TCP, then TLS over it: destroying a TLS socket made over a given
  // socket does not close that socket). Once the race is lost, each is closed, and any still to come
  // as soon as it exists: a connect pending at the timeout must not live on and pile up with redials.
  const sockets: Socket[] = []
  let abandoned = false
  const track = <S extends Socket>(socket: S): S => {
    sockets.push(socket)
    if (abandoned) socket.destroy()
    return socket
  }
  const abandon = (): void => {
    abandoned = true
    for (const socket of sockets) socket.destroy()
  }
  let timer: NodeJS.Timeout | undefined
  const fail = (s: WsConnectStage, what: string): WsConnectError => new WsConnectError(s, `${where}: ${what}`)
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abandon()
      reject(fail('timeout', `no answer within ${timeoutMs / 1000} s (while at ${stage}${proxy ? `, through proxy ${proxy.label}` : ''})`))
    }, timeoutMs)
  })
  const steps = async (): Promise<WsConnection> => {
    const dialHost = proxy?.host ?? host
    const dialPort = proxy?.port ?? port
    const address = await resolve(dialHost).catch((err: NodeJS.ErrnoException) => {
      throw fail('dns', `cannot resolve ${proxy ? `proxy ${dialHost}` : dialHost} (${err.code ?? err.message})`)
    })
    stage = 'tcp'
    const remote = formatHostPort({ host: address, port: dialPort })
    let stream: Socket = await tcp(address, dialPort, track).catch((err: NodeJS.ErrnoException) => {
      throw fail('tcp', `TCP connection to ${proxy ? `proxy ${proxy.label} at ` : ''}${remote} failed (${err.code ?? err.message})`)
    })
    if (proxy) {
      stage = 'proxy'
      await tunnel(stream, target, proxy.auth).catch((err: Error) => {
        throw fail('proxy', `proxy ${proxy.label}: ${err.message}`)
      })
    }
    if (secure) {
      stage = 'tls'
      stream = await tls(stream, host, options.ca, track).catch((err: NodeJS.ErrnoException) => {
        throw fail('tls', `TLS with ${target} failed: ${err.message}${err.code ? ` (${err.code})` : ''}`)
      })
    }
    stage = 'upgrade'
    const socket = await upgrade(url, stream).catch((err: Error) => {
      throw fail('upgrade', err.message)
    })
    return { socket, secure, remote, remoteAddress: address, remotePort: dialPort, viaProxy: proxy?.label ?? null }
  }
  try {
    return await Promise.race([steps(), timeout])
  } catch (err) {
    abandon()
    throw err
  } finally {
    clearTimeout(timer)
  }
}

async function resolve(host: string): Promise<string> {
  if (isIP(host) !== 0) return host
  return (await lookup(host)).address
}

function tcp(address: string, port: number, track: (s: Socket) => Socket): Promise<Socket> {
  return new Promise((resolveSocket, reject) => {
    const socket = track(netConnect({ host: address, port }))
    socket.once('connect', () => {
      socket.off('error', reject)
      resolveSocket(socket)
    })
    socket.once('error', reject)
  })
}

/** Asks the proxy for a tunnel to `target` ("host:port") over the socket already connected to it. */
function tunnel(socket: Socket, target: string, auth: string | null): Promise<void> {
  return new Promise((resolveTunnel, reject) => {
    const headers: Record<string, string> = { Host: target }
    if (auth !== null) headers['Proxy-Authorization'] = `Basic ${Buffer.from(auth).toString('base64')}`
    const req = request({ method: 'CONNECT', path: target, headers, createConnection: () => socket })
    req.once('connect', (res, tunnelled, head) => {
      if (res.statusCode !== 200) {
        reject(new Error(`refused CONNECT to ${target}: ${res.statusCode} ${res.statusMessage || STATUS_CODES[res.statusCode ?? 0] || ''}`.trim()))
        return
      }
      // a proxy that sent bytes past its answer is not a clean tunnel: TLS would see garbage
      if (head.length > 0) reject(new Error(`sent ${head.length} unexpected bytes after accepting CONNECT`))
      else resolveTunnel()
      void tunnelled
    })
    req.once('response', (res) => reject(new Error(`answered CONNECT with ${res.statusCode} instead of a tunnel`)))
    req.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`connection failed during CONNECT (${err.code ?? err.message})`)))
    req.end()
  })
}

function tls(socket: Socket, host: string, ca: string | Buffer | undefined, track: (s: TLSSocket) => TLSSocket): Promise<TLSSocket> {
  return new Promise((resolveTls, reject) => {
    const secured = track(tlsConnect({ socket, servername: isIP(host) === 0 ? host : undefined, host, ca, ALPNProtocols: ['http/1.1'] }))
    secured.once('secureConnect', () => {
      secured.off('error', reject)
      resolveTls(secured)
    })
    secured.once('error', reject)
  })
}

/**
 * The HTTP upgrade to WebSocket, on a socket already connected (and tunnelled, and secured). `ws` is
 * loaded here, the first time a fallback is dialled: every edge parses --fallback options with this
 * module, and loading `ws` (~60 ms) at each start would cost the many that never fall back.
 */
async function upgrade(url: URL, socket: Socket): Promise<WebSocket> {
  const { default: WebSocket } = await import('ws')
  return new Promise((resolveWs, reject) => {
    // ws's own TLS/TCP dialling is bypassed: it gets the socket made above (no agent is involved)
    const ws = new WebSocket(url, { createConnection: () => socket, perMessageDeflate: false, maxPayload: WS_MAX_MESSAGE_BYTES, followRedirects: false })
    ws.binaryType = 'nodebuffer'
    const onError = (err: Error): void => reject(new Error(`WebSocket upgrade failed: ${err.message}`))
    ws.once('unexpected-response', (_req, res) => {
      const status = `${res.statusCode} ${res.statusMessage ?? STATUS_CODES[res.statusCode ?? 0] ?? ''}`.trim()
      reject(new Error(`the server answered the WebSocket upgrade with HTTP ${status} (is this a supernode's WebSocket port and path?)`))
      ws.terminate()
    })
    ws.once('open', () => {
      ws.off('error', onError)
      resolveWs(ws)
    })
    // on, not once: a refused upgrade can be followed by the error of the aborted handshake
    ws.on('error', onError)
  })
}
