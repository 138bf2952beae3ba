// One side of the two-thread data-path benchmark (sections/datapath.ts): an edge or a raw dgram
// socket, sending or counting, driven by messages from the main thread.
import { createSocket } from 'node:dgram'
import { parentPort, workerData } from 'node:worker_threads'
import { CountingTap, MAC_A, MAC_B, blast, frame, startBenchEdge, untilDirect } from './datapath-parts.js'

export type Role = 'rx-edge' | 'tx-edge' | 'rx-raw' | 'tx-raw'
export interface WorkerInput {
  role: Role
  size: number
  supernodePort: number
}
export type Command = { type: 'count' } | { type: 'connect'; peerId: number } | { type: 'blast'; port?: number } | { type: 'stop' }
export type Reply = { type: 'ready'; edgeId?: number; port?: number } | { type: 'count'; count: number } | { type: 'direct'; direct: boolean } | { type: 'blasted'; seconds: number } | { type: 'stopped' }

const port = parentPort!
const input = workerData as WorkerInput
const reply = (message: Reply): void => port.postMessage(message)

if (input.role === 'rx-edge' || input.role === 'tx-edge') {
  const rx = input.role === 'rx-edge'
  const tap = new CountingTap(rx ? 'b' : 'a', rx ? MAC_B : MAC_A)
  const edge = await startBenchEdge(input.supernodePort, tap, rx ? '10.9.0.2' : '10.9.0.1')
  const f = frame(MAC_B, MAC_A, input.size)
  port.on('message', (command: Command) => {
    void (async () => {
      if (command.type === 'count') reply({ type: 'count', count: tap.received })
      else if (command.type === 'connect') reply({ type: 'direct', direct: await untilDirect(edge, tap, () => command.peerId, f) })
      else if (command.type === 'blast') reply({ type: 'blasted', seconds: await blast(() => tap.receiver!(f)) })
      else {
        await edge.stop()
        reply({ type: 'stopped' })
        port.close()
      }
    })()
  })
  reply({ type: 'ready', edgeId: edge.edgeId })
} else {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  let received = 0
  socket.on('message', () => void received++)
  // the overlay's datagram for a frame of this size: 44 bytes of header and tag around it
  const payload = Buffer.alloc(input.size + 44)
  port.on('message', (command: Command) => {
    void (async () => {
      if (command.type === 'count') reply({ type: 'count', count: received })
      else if (command.type === 'blast') {
        const to = command.port!
        reply({ type: 'blasted', seconds: await blast(() => socket.getSendQueueCount() < 512 && socket.send(payload, to, '127.0.0.1')) })
      } else if (command.type === 'stop') {
        socket.close()
        reply({ type: 'stopped' })
        port.close()
      }
    })()
  })
  reply({ type: 'ready', port: socket.address().port })
}
