// A technician's `--forward LOCAL:REMOTE`: a TCP listener on 127.0.0.1:LOCAL whose every
// connection becomes a stream to the device's REMOTE port (hub.ts). A refused stream closes the
// connection (the hub logs why, one line); the program sees the connection end.
import { createServer, type Server, type Socket } from 'node:net'
import { formatHostPort, type HostPort } from '../../net/address.js'
import type { StreamHub } from './hub.js'

/** Forwards listen on loopback only: anyone who reaches the listener reaches the device's port. */
export const FORWARD_HOST = '127.0.0.1'

export interface ForwardSpec {
  /** 0: any free port (tests) */
  localPort: number
  remotePort: number
}

/** Parses "LOCAL:REMOTE" (2222:22); throws one line naming the option. */
export function parseForward(text: string): ForwardSpec {
  const match = /^(\d{1,5}):(\d{1,5})$/.exec(text.trim())
  const localPort = Number(match?.[1])
  const remotePort = Number(match?.[2])
  if (match === null || localPort < 1 || localPort > 65535 || remotePort < 1 || remotePort > 65535) throw new Error(`--forward: "${text}" is not LOCAL:REMOTE with two ports from 1 to 65535, like 2222:22`)
  return { localPort, remotePort }
}

/** Opens the listener; rejects with a one-line error when the port is taken. */
export async function listenForward(hub: StreamHub, device: string, spec: ForwardSpec): Promise<{ server: Server; address: HostPort }> {
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket: Socket) => {
    hub.open(device, spec.remotePort, socket).then(
      (refusal) => {
        if (refusal !== null) socket.destroy()
      },
      () => socket.destroy(),
    )
  })
  await listen(server, { host: FORWARD_HOST, port: spec.localPort }, `--forward ${spec.localPort}:${spec.remotePort}`)
  const bound = server.address() as { port: number }
  return { server, address: { host: FORWARD_HOST, port: bound.port } }
}

/** server.listen as a promise whose error names the option and the address. */
export function listen(server: Server, at: HostPort, option: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException): void => reject(new Error(`${option}: cannot listen on ${formatHostPort(at)}: ${err.code ?? err.message}`))
    server.once('error', failed)
    server.listen(at.port, at.host, () => {
      server.off('error', failed)
      resolve()
    })
  })
}
