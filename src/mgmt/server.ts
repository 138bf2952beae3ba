// The small read-only management HTTP server of edges and supernodes: GET /status (JSON) and
// GET /metrics (Prometheus). Bound to loopback by default; it never serves keys, and answers only
// requests whose Host names it (host-check.ts), so a web page cannot read it by DNS rebinding.
import { createServer, type ServerResponse, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { hostCheck } from '../http/host-check.js'
import type { HostPort } from '../net/address.js'

/** The command-line option that adds a name (the same on `overlan edge` and `overlan supernode`). */
export const MGMT_HOST_NAME_OPTION = '--mgmt-host-name'

/** Where to listen, and the names (Host header) to answer to besides the listen address and localhost on loopback. */
export interface MgmtListen extends HostPort {
  hostNames?: readonly string[]
}

export interface MgmtHandlers {
  status(): unknown
  metrics(): string
}

export class MgmtServer {
  private constructor(private readonly server: Server) {}

  static async start(listen: MgmtListen, handlers: MgmtHandlers): Promise<MgmtServer> {
    const checkHost = hostCheck({ listenHost: listen.host, names: listen.hostNames ?? [], option: MGMT_HOST_NAME_OPTION })
    const server = createServer((req, res) => {
      // in front of every route, as middleware would be
      const host = checkHost(req.headers.host, req.socket.localAddress)
      if (!host.ok) return void sendError(res, host.status, host.error)
      const path = (req.url ?? '/').split('?')[0]
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET')
        return void sendError(res, 405, 'only GET is supported')
      }
      if (path === '/status') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(handlers.status(), null, 2) + '\n')
      } else if (path === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(handlers.metrics())
      } else {
        sendError(res, 404, `no such path: ${path}; try /status or /metrics`)
      }
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    return new MgmtServer(server)
  }

  address(): HostPort {
    const info = this.server.address() as AddressInfo
    return { host: info.address, port: info.port }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections()
      this.server.close(() => resolve())
    })
  }
}

function sendError(res: ServerResponse, status: number, error: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error }))
}
