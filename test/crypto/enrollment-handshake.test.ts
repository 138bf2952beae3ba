// The enrollment handshake (Noise XXpsk0): a technician with the token's secret completes it with the
// device named in the token and nobody else; a wrong secret is refused at message 1 before the device
// does any DH; replayed messages are refused; and it interoperates with the unwrapped library, so it is
// the standard pattern and not a variant of our own.
import t from 'tap'
import NoiseState from 'noise-handshake'
import curveEd from 'noise-curve-ed'
import sodium from 'sodium-native'
import { EnrollmentInitiator, EnrollmentResponder, enrollmentPrologue } from '../../src/crypto/enrollment.js'
import { generateIdentity, communityIdOf } from '../../src/crypto/index.js'
import { staticKeyFrom, type StaticKey } from '../../src/crypto/noise-ik.js'

const communityId = communityIdOf(Buffer.alloc(32, 7))
const secret = Buffer.alloc(32, 0x5e)
const device = staticKeyFrom(generateIdentity())
const tech = staticKeyFrom(generateIdentity())
const NOW = 1_800_000_000_000

function exchange(): Buffer {
  const b = Buffer.alloc(8)
  sodium.randombytes_buf(b)
  return b
}

function pair(opts: { techSecret?: Buffer; deviceKey?: Buffer; deviceLocal?: StaticKey; techCommunity?: Buffer } = {}): { i: EnrollmentInitiator; r: EnrollmentResponder } {
  const ex = exchange()
  const i = EnrollmentInitiator.start({ local: tech, communityId: opts.techCommunity ?? communityId, secret: opts.techSecret ?? secret, exchange: ex, deviceKey: opts.deviceKey ?? device.publicKey })
  const r = EnrollmentResponder.start({ local: opts.deviceLocal ?? device, communityId, secret, exchange: ex })
  return { i, r }
}

t.test('a technician with the secret enrolls: the device learns its key and name, answers flow sealed both ways', (t) => {
  const { i, r } = pair()
  const hello = i.hello()
  t.equal(hello.length, 32 + 16, 'message 1 is an ephemeral key and the tag of an empty payload')
  const h = r.readHello(hello)
  if (!h.ok) throw new Error(h.reason)
  t.ok(i.readChallenge(h.challenge).ok, 'the technician accepts the challenge of the token device key')
  const req = r.readRequest(i.request({ name: 'Alice (ACME support)', timestampMs: NOW }))
  if (!req.ok) throw new Error(req.reason)
  t.ok(req.publicKey.equals(tech.publicKey), 'the device learns the technician key, proven by the handshake')
  t.same(req.body, { name: 'Alice (ACME support)', timestampMs: NOW })
  const waiting = i.openStatus(r.sealStatus({ state: 'waiting' }))
  t.same(waiting, { ok: true, status: { state: 'waiting' } })
  t.ok(r.openPoll(i.poll()).ok, 'a poll opens')
  const cert = Buffer.alloc(200, 0xce)
  const admitted = i.openStatus(r.sealStatus({ state: 'admitted', certificate: cert }))
  t.ok(admitted.ok && admitted.status.state === 'admitted' && admitted.status.certificate.equals(cert), 'the certificate arrives whole')
  i.end()
  r.end()
  t.end()
})

t.test('a wrong enrollment secret is refused at message 1, before the device does any DH', (t) => {
  const { i, r } = pair({ techSecret: Buffer.alloc(32, 0x11) })
  let dhCalls = 0
  const realDh = curveEd.dh.bind(curveEd)
  curveEd.dh = (pk, kp) => {
    dhCalls++
    return realDh(pk, kp)
  }
  try {
    const result = r.readHello(i.hello())
    t.same(result, { ok: false, reason: 'handshake-decrypt-failed' })
    t.equal(dhCalls, 0, 'no DH was computed on the device for a stranger')
  } finally {
    curveEd.dh = realDh
  }
  t.same(r.readHello(Buffer.alloc(48)), { ok: false, reason: 'out-of-order' }, 'a refused handshake is spent')
  t.end()
})

t.test('a handshake made for another community fails at message 1 (the prologue binds the community)', (t) => {
  const { i, r } = pair({ techCommunity: communityIdOf(Buffer.alloc(32, 8)) })
  t.same(r.readHello(i.hello()), { ok: false, reason: 'handshake-decrypt-failed' })
  t.end()
})

t.test('the technician refuses a device that is not the one in its token', (t) => {
  const impostor = staticKeyFrom(generateIdentity())
  // the impostor holds the secret (a leaked token), but not the device's identity key
  const { i, r } = pair({ deviceLocal: impostor })
  const h = r.readHello(i.hello())
  if (!h.ok) throw new Error(h.reason)
  t.same(i.readChallenge(h.challenge), { ok: false, reason: 'wrong-device-key' })
  t.throws(() => i.request({ name: 'x', timestampMs: NOW }), /enrollment: request called at step failed/, 'nothing is sent to an impostor')
  t.end()
})

t.test('replays are refused: a sealed poll twice, message 3 on another handshake, a challenge twice', (t) => {
  const { i, r } = pair()
  const h = r.readHello(i.hello())
  if (!h.ok) throw new Error(h.reason)
  t.ok(i.readChallenge(h.challenge).ok)
  const request = i.request({ name: 'bob', timestampMs: NOW })
  t.ok(r.readRequest(request).ok)
  const poll = i.poll()
  t.ok(r.openPoll(poll).ok)
  t.same(r.openPoll(poll), { ok: false, reason: 'replayed' }, 'the same poll again is refused')
  t.same(r.readRequest(request), { ok: false, reason: 'out-of-order' }, 'message 3 again on a finished handshake is refused')

  // the recorded hello and request, replayed to a fresh responder: the challenge differs, so message 3 fails
  const { i: i2, r: r2 } = pair()
  const hello2 = i2.hello()
  const c2 = r2.readHello(hello2)
  if (!c2.ok) throw new Error(c2.reason)
  const fresh = EnrollmentResponder.start({ local: device, communityId, secret, exchange: exchange() })
  t.ok(fresh.readHello(hello2).ok, 'a replayed message 1 gets a challenge (it costs the device one handshake, rate-limited upstream)')
  t.ok(i2.readChallenge(c2.challenge).ok)
  const request2 = i2.request({ name: 'bob', timestampMs: NOW })
  t.same(fresh.readRequest(request2), { ok: false, reason: 'handshake-decrypt-failed' }, 'message 3 of another handshake does not complete this one')
  t.same(i2.openStatus(r.sealStatus({ state: 'waiting' })), { ok: false, reason: 'sealed-decrypt-failed' }, 'an answer sealed for another exchange does not open')
  t.end()
})

t.test('a changed byte anywhere is refused, never thrown', (t) => {
  const { i, r } = pair()
  const h = r.readHello(i.hello())
  if (!h.ok) throw new Error(h.reason)
  const challenge = Buffer.from(h.challenge)
  challenge[40]! ^= 1
  t.same(i.readChallenge(challenge), { ok: false, reason: 'handshake-decrypt-failed' })
  const { i: i3, r: r3 } = pair()
  const h3 = r3.readHello(i3.hello())
  if (!h3.ok) throw new Error(h3.reason)
  t.ok(i3.readChallenge(h3.challenge).ok)
  t.ok(r3.readRequest(i3.request({ name: 'c', timestampMs: NOW })).ok)
  const poll = Buffer.from(i3.poll())
  poll[poll.length - 1]! ^= 0x80
  t.same(r3.openPoll(poll), { ok: false, reason: 'sealed-decrypt-failed' })
  t.same(r3.openPoll(Buffer.alloc(3)), { ok: false, reason: 'sealed-decrypt-failed' }, 'too short')
  t.same(r3.openPoll(Buffer.alloc(30)), { ok: false, reason: 'sealed-decrypt-failed' }, 'counter 0')
  t.end()
})

t.test('interoperates with the plain noise-handshake XXpsk0 (the standard pattern, our prologue)', (t) => {
  // the library without our wrapper, as the device: what a third-party implementation would be
  const ex = exchange()
  const i = EnrollmentInitiator.start({ local: tech, communityId, secret, exchange: ex, deviceKey: device.publicKey })
  const plain = new NoiseState('XXpsk0', false, { publicKey: device.publicKey, secretKey: device.secretKey, scalar: device.scalar }, { curve: curveEd, psk: secret })
  plain.initialise(enrollmentPrologue(communityId))
  t.equal(Buffer.from(plain.recv(i.hello())).length, 0, 'message 1 reads with the plain library')
  t.ok(i.readChallenge(Buffer.from(plain.send())).ok, 'its message 2 reads with ours')
  const payload = Buffer.from(plain.recv(i.request({ name: 'plain', timestampMs: NOW })))
  t.ok(plain.complete, 'the plain library completes the handshake')
  t.ok(Buffer.from(plain.rs!).equals(tech.publicKey), 'and learns the technician key')
  t.equal(payload.subarray(10).toString(), 'plain', 'the request payload carries the name')
  t.equal(enrollmentPrologue(communityId).toString('hex'), Buffer.concat([Buffer.from('overlan enrollment'), Buffer.from([1]), communityId]).toString('hex'), 'prologue = label ‖ version ‖ community ID')
  t.end()
})
