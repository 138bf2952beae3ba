// netcheck over the fallback: opens the WebSocket an edge would use when UDP is blocked
// (src/net/ws-connect.ts: the CA, the HTTPS_PROXY tunnel) and sends one HELLO in it; the
// supernode's COOKIE back proves the whole way works, and its time field gives the clock skew.
import { randomBytes } from 'node:crypto'
import { connectWebSocket, proxyFor, WsConnectError, type ProxyConfig } from '../net/ws-connect.js'
import { PacketType, decodePacket, encodeHello } from '../wire/index.js'
import type { TlsProbe } from './netcheck.js'

export interface TlsProbeOptions {
  /** PEM of a private CA to trust instead of the system's */
  ca?: string | Buffer
  /** where HTTPS_PROXY, https_proxy and NO_PROXY are read from (the CLI hands in process.env) */
  env: NodeJS.ProcessEnv
}

export function tlsProber(options: TlsProbeOptions): (url: string, timeoutMs: number) => Promise<TlsProbe> {
  return (url, timeoutMs) => probeFallback(url, timeoutMs, options)
}

async function probeFallback(text: string, timeoutMs: number, options: TlsProbeOptions): Promise<TlsProbe> {
  let url: URL
  let proxy: ProxyConfig | null
  try {
    url = new URL(text)
    proxy = proxyFor(url, options.env)
  } catch (err) {
    return { ok: false, error: (err as Error).message, proxy: null }
  }
  const proxyLabel = proxy?.label ?? null
  const started = performance.now()
  let connection
  try {
    connection = await connectWebSocket({ url, ca: options.ca, proxy, timeoutMs })
  } catch (err) {
    return { ok: false, error: err instanceof WsConnectError ? withoutUrl(err.message, text) : (err as Error).message, proxy: proxyLabel }
  }
  const left = Math.max(1, timeoutMs - (performance.now() - started))
  const socket = connection.socket
  try {
    return await new Promise<TlsProbe>((resolve) => {
      const nonce = randomBytes(8)
      let sentMono = 0
      let sentAtMs = 0
      const timer = setTimeout(() => resolve({ ok: false, error: `connected, but no answer to HELLO within ${Math.round(left)} ms`, proxy: proxyLabel }), left)
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary) return
        const decoded = decodePacket(data)
        if (!decoded.ok || decoded.value.type !== PacketType.Cookie || !decoded.value.clientNonce.equals(nonce)) return
        clearTimeout(timer)
        resolve({ ok: true, rttMs: performance.now() - sentMono, sentAtMs, receivedAtMs: Date.now(), supernodeTimeMs: decoded.value.serverTimeMs, proxy: proxyLabel })
      })
      socket.on('close', (code: number) => {
        clearTimeout(timer)
        resolve({ ok: false, error: `the supernode closed the WebSocket (code ${code})`, proxy: proxyLabel })
      })
      socket.on('error', () => {})
      sentMono = performance.now()
      sentAtMs = Date.now()
      socket.send(encodeHello(nonce), { binary: true })
    })
  } finally {
    socket.terminate()
  }
}

/** ws-connect's messages start with the URL; the sentence names it already. */
function withoutUrl(message: string, url: string): string {
  const colon = message.indexOf(': ')
  return colon !== -1 && url.startsWith(message.slice(0, message.indexOf(':'))) ? message.slice(colon + 2) : message
}
