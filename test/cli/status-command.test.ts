// `overlan status` as a user runs it next to a running edge: the real CLI reads the edge's
// management API and prints its peers and supernodes; --json gives the edge's JSON; an address
// where no edge runs, or where something else answers, each ends with one line and its own code.
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import { createServer as createTcpServer, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { EXIT_NO_EDGE, EXIT_NOT_AN_EDGE } from '../../src/cli/errors.js'
import { fetchStatus, findEdgeStatus } from '../../src/cli/status.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { freeTcpPort } from '../fixtures/free-port.js'
import { pathOf, registered, startEdge, startSupernode, until } from '../fixtures/overlay.js'

const bin = fileURLToPath(new URL('../../bin/overlan.js', import.meta.url))

/** The CLI as a child process; asynchronous, so that the in-process edge keeps answering meanwhile. */
function overlan(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr })
    })
  })
}

t.test('prints the peers, their path and the supernode of a running edge; --json is its /status', async (t) => {
  const sn = await startSupernode(t)
  const a = await startEdge(t, [sn], { mgmt: { host: '127.0.0.1', port: 0 }, name: 'device', expiresAt: Date.now() + 3_600_000 })
  const b = await startEdge(t, [sn], { name: 'technician' })
  await Promise.all([registered(a), registered(b)])
  b.tap.inject(ipv4Frame(a.tap.mac, b.tap.mac, '10.9.0.2', a.edge.overlay!.address))
  await until('direct', () => pathOf(a, b) === 'direct')
  const mgmt = `127.0.0.1:${a.edge.mgmtAddress!.port}`

  const text = await overlan('status', '--mgmt', mgmt)
  t.equal(text.code, 0, text.stderr)
  t.comment(text.stdout)
  const lines = text.stdout.split('\n')
  t.equal(lines[0], `the edge, management on ${mgmt}`)
  t.match(lines[1], new RegExp(`^edge device \\([0-9a-f]{14}\\), ${a.edge.overlay!.address}/24 on mem\\d+$`))
  const certificate = a.edge.status().certificate
  t.equal(lines[2], `certificate "device" (member, self-issued) ${certificate.fingerprint}, valid until ${certificate.notAfter} (in 23 h 59 min)`, 'its certificate: name, role, fingerprint, end')
  t.match(lines[3], /^session ends \d{4}-\d\d-\d\dT.*Z \(in (59|60) min\)$/, 'the expiry and the time left')
  t.match(text.stdout, new RegExp(`^  127\\.0\\.0\\.1:${sn.port} +registered +udp ${sn.port} +[\\d.]+ ms +[+-]?\\d+ ms$`, 'm'), 'the supernode: registered, over UDP on its port, with its RTT and clock skew')
  t.match(text.stdout, /^peers \(1\)$/m)
  t.match(
    text.stdout,
    new RegExp(`^  technician +${b.edge.overlay!.address.replace(/\./g, '\\.')} +direct to 127\\.0\\.0\\.1:\\d+ +[\\d.]+ ms +98 B +0 B +\\d+ (ms|s) ago$`, 'm'),
    'the peer: name, overlay IP, direct with its endpoint, RTT, bytes received and sent, last seen',
  )

  const json = await overlan('status', '--mgmt', mgmt, '--json')
  t.equal(json.code, 0, json.stderr)
  const printed = JSON.parse(json.stdout) as Record<string, unknown>
  const live = a.edge.status() as unknown as Record<string, unknown>
  t.same(Object.keys(printed), Object.keys(live), 'every field of /status, in its order')
  t.match(printed, { edgeId: live.edgeId, name: 'device', peers: [{ name: 'technician', path: 'direct', rxBytes: 98 }] })
})

t.test('no edge at the address: one line naming it and the fix, exit code 4', async (t) => {
  const port = await freeTcpPort()
  const r = await overlan('status', '--mgmt', `127.0.0.1:${port}`)
  t.equal(r.code, EXIT_NO_EDGE)
  t.equal(r.stdout, '')
  t.equal(r.stderr, `overlan: no overlan edge is running on 127.0.0.1:${port} (connection refused); start one with \`overlan edge\`, or give --mgmt\n`)
})

t.test('something else answers: one line saying so, exit code 5', async (t) => {
  const sn = await startSupernode(t, { mgmt: { host: '127.0.0.1', port: 0 } })
  const snMgmt = `127.0.0.1:${sn.mgmtAddress!.port}`
  const r = await overlan('status', '--mgmt', snMgmt)
  t.equal(r.code, EXIT_NOT_AN_EDGE)
  t.equal(r.stderr, `overlan: ${snMgmt} is a supernode's management API, not an edge's; give the edge's management address with --mgmt\n`)

  const hosts: (string | undefined)[] = []
  const web = createServer((req, res) => {
    hosts.push(req.headers.host)
    res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>')
  })
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => web.close(() => resolve())))
  const webAddress = `127.0.0.1:${(web.address() as { port: number }).port}`
  const other = await overlan('status', '--mgmt', webAddress, '--json')
  t.equal(other.code, EXIT_NOT_AN_EDGE)
  t.equal(other.stdout, '', 'no JSON printed for an answer that is not an edge')
  t.match(other.stderr, /^overlan: 127\.0\.0\.1:\d+ answered with something that is not JSON, not with an edge's status; give the edge's management address with --mgmt\n$/)
  t.same(hosts, [webAddress], 'one request, with the address it connects to as Host (what the management servers accept)')
})

t.test("without --mgmt the places are asked in order: the first is empty, the second's edge is shown and named", async (t) => {
  const sn = await startSupernode(t)
  const a = await startEdge(t, [sn], { mgmt: { host: '127.0.0.1', port: 0 }, name: 'device' })
  const empty = { address: { host: '127.0.0.1', port: await freeTcpPort() }, what: 'first' }
  const second = { address: a.edge.mgmtAddress!, what: 'second' }
  const found = await findEdgeStatus([empty, second])
  t.equal(found.place, second)
  t.equal(found.status.name, 'device')

  const other = { address: { host: '127.0.0.1', port: await freeTcpPort() }, what: 'other' }
  await t.rejects(findEdgeStatus([empty, other]), {
    exitCode: EXIT_NO_EDGE,
    message: `no overlan edge is running on 127.0.0.1:${empty.address.port} (connection refused) or 127.0.0.1:${other.address.port} (connection refused); start one with \`overlan edge\`, or give --mgmt`,
  })
})

t.test('--help shows an example and the exit codes', async (t) => {
  const r = await overlan('status', '--help')
  t.equal(r.code, 0)
  t.match(r.stdout, /overlan status --mgmt 127\.0\.0\.1:5650 --json/)
  t.match(r.stdout, /Exit codes: 0 shown; 4 no edge is running at the management address; 5 something else answered\s+there\./)
  t.match((await overlan('--help')).stdout, /overlan status +Show the local edge's state/)
})

t.test('a listener that says nothing, or hangs up, is something else, not a missing edge', async (t) => {
  const held: Socket[] = []
  // the first connection is held open without a word, the second closed at once
  const silent = createTcpServer((socket) => void (held.length === 0 ? held.push(socket) : socket.resetAndDestroy()))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of held) s.destroy()
    return new Promise<void>((resolve) => silent.close(() => resolve()))
  })
  const address = { host: '127.0.0.1', port: (silent.address() as { port: number }).port }
  t.same(await fetchStatus(address, 200), { kind: 'other', reason: 'sent no answer within 0.2 s' })
  t.same(await fetchStatus(address, 200), { kind: 'other', reason: 'closed the connection without an answer (ECONNRESET)' })
  await t.rejects(findEdgeStatus([{ address: { host: '127.0.0.1', port: await freeTcpPort() }, what: 'empty' }, { address, what: 'silent' }], 200), {
    exitCode: EXIT_NOT_AN_EDGE,
    message: `127.0.0.1:${address.port} closed the connection without an answer (ECONNRESET); give the edge's management address with --mgmt`,
  })
})
