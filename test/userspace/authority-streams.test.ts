// Userspace streams in an authority's community (overlan ca issue): the device audits each stream
// under the technician's certificate (name, role, fingerprint); a member whose certificate says
// `device` may not open one (C5); and a technician revoked mid-transfer loses its stream within a
// second.
import { connect } from 'node:net'
import t from 'tap'
import { generateAuthority, issueCertificate } from '../../src/crypto/certificate.js'
import { generateIdentity } from '../../src/crypto/identity.js'
import { signRevocation } from '../../src/crypto/revocation.js'
import { listenForward } from '../../src/edge/streams/forward.js'
import { decodeCertificate, type Role } from '../../src/wire/index.js'
import { mac } from '../fixtures/frames.js'
import { until } from '../fixtures/overlay.js'
import { echoServer, roundTrip, streamPair } from '../fixtures/userspace.js'

const ca = generateAuthority()
const nowSeconds = Math.floor(Date.now() / 1000) - 60

function member(role: Role, macByte: number, address: string, name: string, serial: number): { identity: ReturnType<typeof generateIdentity>; certificate: Buffer; macByte: number; overlay: { address: string; prefix: number }; keys: undefined } {
  const identity = generateIdentity()
  const certificate = issueCertificate(ca, { role, serial, notBefore: nowSeconds, notAfter: nowSeconds + 3600, memberKey: identity.publicKey, mac: mac(macByte), ipv4: { address, prefix: 24 }, ipv6: null, name })
  return { identity, certificate, macByte, overlay: { address, prefix: 24 }, keys: undefined }
}

t.test("a technician's stream is audited under its certificate; revoked mid-transfer, its connection ends within a second", async (t) => {
  const technician = member('technician', 0x02, '10.9.0.2', 'anna', 2)
  const pair = await streamPair(t, { device: member('device', 0x42, '10.9.0.42', 'device', 1), technician })
  pair.services.set(7, await echoServer(t))
  const forward = await listenForward(pair.technician.edge.streams, pair.deviceIp, { localPort: 0, remotePort: 7 })
  t.teardown(() => forward.server.close())

  const socket = connect({ host: '127.0.0.1', port: forward.address.port })
  let echoed = 0
  socket.on('data', (c: Buffer) => (echoed += c.length))
  socket.on('error', () => {})
  // a transfer under way: 16 KiB every 20 ms until the connection ends (bounded: 10 s at most)
  const writer = setInterval(() => socket.write(Buffer.alloc(16 * 1024)), 20)
  const stopWriter = setTimeout(() => clearInterval(writer), 10_000)
  t.teardown(() => {
    clearInterval(writer)
    clearTimeout(stopWriter)
    socket.destroy()
  })
  await until('bytes flow both ways', () => echoed > 64 * 1024, 10_000)
  const opened = pair.events.find((e) => e.event === 'opened')!
  t.equal(opened.peer.name, 'anna', "the technician's name from its certificate")
  t.equal(opened.peer.role, 'technician')
  t.equal(opened.peer.fingerprint, pair.device.edge.status().peers[0]!.fingerprint, 'and its fingerprint')

  const decoded = decodeCertificate(technician.certificate)
  if (!decoded.ok) throw new Error(decoded.reason)
  const revokedAt = Date.now()
  // the cut reaches the client as a reset (its bytes unread) or a close: either ends it
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())))
  pair.device.edge.setRevocations([signRevocation(ca, decoded.value, Math.floor(revokedAt / 1000))])
  const at = await closed
  t.ok(at - revokedAt < 1000, `the technician's connection closed ${at - revokedAt} ms after the revocation`)
  await until('audited as closed', () => pair.events.some((e) => e.event === 'closed'))
  const end = pair.events.find((e) => e.event === 'closed')!
  t.equal(end.reason, 'closed', 'the stream was cut, not ended by its ends')
  t.ok(end.bytesFromPeer > 64 * 1024, `bytes each way audited (${end.bytesFromPeer} in, ${end.bytesToPeer} out)`)
})

t.test('a member whose certificate says device may not open a stream on another device', async (t) => {
  const pair = await streamPair(t, { device: member('device', 0x42, '10.9.0.42', 'device', 1), technician: member('device', 0x03, '10.9.0.3', 'another device', 3) })
  pair.services.set(7, await echoServer(t))
  const forward = await listenForward(pair.technician.edge.streams, pair.deviceIp, { localPort: 0, remotePort: 7 })
  t.teardown(() => forward.server.close())
  const back = await roundTrip(forward.address.port, Buffer.from('hello')).catch((err: NodeJS.ErrnoException) => err.code)
  t.ok(back === 'ECONNRESET' || (Buffer.isBuffer(back) && back.length === 0), 'the connection ends with nothing from the service')
  await until('audited', () => pair.events.some((e) => e.event === 'refused'))
  t.equal(pair.events.find((e) => e.event === 'refused')!.reason, 'not-a-member')
  t.equal(pair.device.edge.status().streams!.counters.refused['not-a-member'], 1, 'counted')
})
