// `overlan supernode` with several UDP ports and a WebSocket listener over TLS, as an operator
// starts it: the options reach the running process (its /status), and wrong combinations fail with
// one line naming the option.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { WebSocket } from 'ws'
import { selfSigned } from '../fixtures/self-signed.js'
import { startSupernodeProcess } from '../fixtures/supernode-process.js'

const bin = fileURLToPath(new URL('../../bin/overlan.js', import.meta.url))

t.test('-p twice, --tcp-port with --tls-cert/--tls-key: two UDP ports and a wss:// listener in /status', async (t) => {
  const { certPath, keyPath } = selfSigned(t)
  const sn = await startSupernodeProcess(t, ['-p', '0', '--tcp-port', '0', '--tls-cert', certPath, '--tls-key', keyPath])
  const status = await sn.status<{ udpPorts: number[]; websocket: { port: number; transport: string } }>()
  t.equal(status.udpPorts.length, 2, `UDP ports ${status.udpPorts.join(', ')}`)
  t.equal(status.websocket.transport, 'tls')
  t.match(sn.log(), /listening for WebSocket \(TLS\) on TCP 127\.0\.0\.1:\d+ path \/overlan/)
  const ws = new WebSocket(`wss://127.0.0.1:${status.websocket.port}/overlan`, { rejectUnauthorized: false })
  await once(ws, 'open')
  t.pass('a wss:// client connects')
  ws.terminate()
})

// (the port and count validators are the ones every option uses, tested in supernode-command.test.ts)
t.test('wrong combinations: one line naming the option, non-zero exit', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--tls-cert', 'c.pem', '--tcp-port', '0'], /--tls-cert and --tls-key go together/],
    [['--trust-proxy'], /need --tcp-port/],
    [['--tcp-port', '0', '--tls-cert', '/nonexistent.pem', '--tls-key', '/nonexistent.pem'], /--tls-cert: cannot read \/nonexistent\.pem/],
    [['-p', '7000', '-p', '7000'], /--port 7000 is given twice/],
  ]
  for (const [args, message] of cases) {
    const child = spawn(process.execPath, [bin, 'supernode', '--bind', '127.0.0.1', '--mgmt', 'off', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    const [code] = (await once(child, 'exit')) as [number | null]
    t.not(code, 0, `supernode ${args.join(' ')} fails`)
    t.match(stderr.trim(), message)
    t.equal(stderr.trim().split('\n').length, 1, 'in one line')
  }
})
