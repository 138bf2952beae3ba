// The small read-only management HTTP server of edges and supernodes: GET /status (JSON) and
// GET /metrics (Prometheus). Bound to loopback by default; it never serves keys.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { HostPort } from '../net/address.js'

export interface MgmtHandlers {
  status(): unknown
  metrics(): string
}

export class MgmtServer {
  private constructor(private readonly server: Server) {}

  static async start(listen: HostPort, handlers: MgmtHandlers): Promise<MgmtServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { 'content-type': 'application/json', allow: 'GET' }).end(JSON.stringify({ error: 'only GET is supported' }))
        return
      }
      if (path === '/status') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(handlers.status(), null, 2) + '\n')
      } else if (path === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(handlers.metrics())
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no such path: ${path}; try /status or /metrics` }))
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
