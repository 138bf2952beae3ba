// The signature worker (src/supernode/signature-checks.ts): registrations' Ed25519 checks on a
// worker thread. Verdicts right and in the order the checks went out, across batches; bounded
// (past the bound a check is refused, not queued); a worker that cannot start or dies hands what
// it held back to the main thread and nothing is lost; close() gives no verdict after it. And at
// the supernode (in memory): a REGISTER completes a turn later with the same checks as inline, a
// revocation that arrives while the verdict is out wins, and a flood past the bound is dropped
// as verify-backlog while the first registration of it goes through.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import sodium from 'sodium-native'
import { generateIdentity, signAnnouncement } from '../../src/crypto/index.js'
import { MAX_WAITING_CHECKS, WorkerVerifier, type SignatureCheck } from '../../src/supernode/signature-checks.js'
import { ErrorCode, PacketType, decodePacket, encodeHello, encodeRegister, type Packet } from '../../src/wire/index.js'
import { keptLines, supernodeInMemory, until } from '../fixtures/supernode-start.js'
import { TestAuthority } from '../fixtures/supernode-members.js'

const identity = generateIdentity()

/** A check by `identity` over `text`, its signature broken when `good` is false. */
function check(text: string, good = true): SignatureCheck {
  const message = Buffer.from(text)
  const signature = Buffer.alloc(sodium.crypto_sign_BYTES)
  sodium.crypto_sign_detached(signature, Buffer.concat([Buffer.from('overlan-announcement-v2\0'), message]), identity.secretKey)
  if (!good) signature[5]! ^= 1
  return { context: 'announcement', message, signature, publicKey: identity.publicKey }
}

/** verify() as a promise; rejects when it refuses */
function verdicts(verifier: WorkerVerifier, checks: SignatureCheck[]): Promise<boolean[]> {
  return new Promise((resolve, reject) => {
    if (!verifier.verify(checks, resolve)) reject(new Error('refused'))
  })
}

t.test('verdicts are right and come back in order, one call at a time, across batches', async (t) => {
  const verifier = new WorkerVerifier(keptLines().logger)
  t.teardown(() => verifier.close())
  t.equal(verifier.mode, 'worker')
  const malformed: SignatureCheck = { ...check('short key'), publicKey: Buffer.alloc(31) }
  t.same(await verdicts(verifier, [check('a'), check('b', false), malformed, check('c')]), [true, false, false, true], 'good, forged, malformed, good')
  // 300 calls in one turn: five batches of 64 checks and a rest; each call gets its own verdicts
  const order: number[] = []
  const all = Array.from({ length: 300 }, (_, i) => {
    const good = i % 7 !== 3
    return new Promise<boolean>((resolve) => {
      verifier.verify([check(`message ${i}`, good)], ([verdict]) => {
        order.push(i)
        resolve(verdict === good)
      })
    })
  })
  t.equal(verifier.waiting, 300, 'all 300 wait')
  const right = await Promise.all(all)
  t.ok(right.every(Boolean), 'every verdict matches how its signature was made')
  t.same(
    order,
    Array.from({ length: 300 }, (_, i) => i),
    'in the order they were asked',
  )
  t.equal(verifier.waiting, 0, 'none waits once answered')
})

t.test('bounded: past the bound a call is refused and nothing of it is queued; room again once answered', async (t) => {
  const verifier = new WorkerVerifier(keptLines().logger, 3)
  t.teardown(() => verifier.close())
  const first = verdicts(verifier, [check('a'), check('b')])
  let called = false
  t.notOk(
    verifier.verify([check('c'), check('d')], () => (called = true)),
    '2 + 2 > 3: refused',
  )
  t.equal(verifier.waiting, 2)
  t.same(await first, [true, true])
  t.notOk(called, 'the refused call is never answered')
  t.same(await verdicts(verifier, [check('c'), check('d')]), [true, true], 'accepted once there is room')
  t.equal(MAX_WAITING_CHECKS, 4096, 'the supernode waits for 4,096 checks at most (memory-bound.ts counts them)')
})

t.test('a worker that cannot start: what it was given is verified on the main thread, said once', async (t) => {
  const { lines, logger } = keptLines()
  const missing = pathToFileURL(join(t.testdir(), 'no-such-worker.js'))
  const verifier = new WorkerVerifier(logger, MAX_WAITING_CHECKS, missing)
  t.teardown(() => verifier.close())
  t.same(await verdicts(verifier, [check('a'), check('b', false)]), [true, false], 'the verdicts still come')
  t.equal(verifier.mode, 'inline', 'and from now on on the main thread')
  let atOnce: boolean[] | null = null
  verifier.verify([check('c', false)], (v) => (atOnce = v))
  t.same(atOnce, [false], 'inline: before verify() returns')
  t.equal(lines.filter((l) => l.startsWith('warn signature worker stopped')).length, 1, `one warning: ${lines.join(' | ')}`)
})

t.test('a worker that dies with a batch in hand: the batch is verified on the main thread, nothing lost', async (t) => {
  const { lines, logger } = keptLines()
  const dir = t.testdir()
  writeFileSync(join(dir, 'dying-worker.mjs'), "import { parentPort } from 'node:worker_threads'\nparentPort.on('message', () => process.exit(3))\n")
  const verifier = new WorkerVerifier(logger, MAX_WAITING_CHECKS, pathToFileURL(join(dir, 'dying-worker.mjs')))
  t.teardown(() => verifier.close())
  const answers = await Promise.all([verdicts(verifier, [check('a')]), verdicts(verifier, [check('b', false), check('c')])])
  t.same(answers, [[true], [false, true]], 'every call answered, in order, rightly')
  t.equal(verifier.waiting, 0)
  t.match(lines.join('\n'), /signature worker stopped \(it exited with code 3\)/)
})

t.test('close(): verdicts not yet given never come', async (t) => {
  const verifier = new WorkerVerifier(keptLines().logger)
  let called = false
  t.ok(verifier.verify([check('a')], () => (called = true)))
  await verifier.close()
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.notOk(called, 'no callback after close')
  t.equal(verifier.waiting, 0)
})

// ---- at the supernode -------------------------------------------------------------------------

function decoded(buf: Buffer): Packet {
  const d = decodePacket(buf)
  if (!d.ok) throw new Error(d.reason)
  return d.value
}

const EDGE = { address: '127.0.0.70', port: 4100 }

async function workerSupernode(t: Test) {
  const sn = await supernodeInMemory(t, { signatureWorker: true })
  /** a REGISTER for `announcement` with a cookie from a HELLO */
  const registerPacket = (announcement: Buffer, from = EDGE): Buffer => {
    const nonce = Buffer.alloc(8, 9)
    const cookie = decoded(sn.receive(encodeHello(nonce), from.address, from.port)!)
    if (cookie.type !== PacketType.Cookie) throw new Error('no cookie')
    return encodeRegister(nonce, cookie.cookie, announcement)
  }
  /** what the supernode answers `packet` with, once the worker has spoken */
  const answerTo = async (packet: Buffer, from = EDGE): Promise<Packet> => {
    const before = sn.sent.length
    t.equal(sn.receive(packet, from.address, from.port), null, 'no answer in the same turn: the worker has the checks')
    await until('an answer', () => sn.sent.length > before)
    return decoded(sn.sent[before]!.packet)
  }
  return { sn, registerPacket, answerTo }
}

t.test('at the supernode: fresh, then cached, registrations complete a turn later; forged signatures are refused with their codes', async (t) => {
  const { sn, registerPacket, answerTo } = await workerSupernode(t)
  t.same(sn.node.status().signatureChecks, { thread: 'worker', waiting: 0 })
  const community = new TestAuthority()
  const member = community.issue()
  t.match(await answerTo(registerPacket(member.announce())), { type: PacketType.RegisterAck, edgeId: member.edgeId }, 'fresh: acknowledged')
  t.ok(sn.node.registry.edges.has(member.edgeId), 'registered')
  t.match(await answerTo(registerPacket(member.announce())), { type: PacketType.RegisterAck }, 'again: acknowledged')
  t.match(sn.node.counters, { certificateCacheMisses: 1, certificateCacheHits: 1, registrations: 2 }, 'the second from the cache')

  const stranger = community.issue()
  const forgedCertificate = Buffer.from(stranger.certificate)
  forgedCertificate[forgedCertificate.length - 1]! ^= 1
  const forged = signAnnouncement(stranger.identity, forgedCertificate, Date.now(), [])
  const from = { address: '127.0.0.71', port: 4101 }
  t.match(await answerTo(registerPacket(forged, from), from), { type: PacketType.Error, code: ErrorCode.BadCertificate }, "a certificate the authority did not sign: refused")
  const badMember = stranger.announce()
  badMember[badMember.length - 1]! ^= 1
  t.match(await answerTo(registerPacket(badMember, from), from), { type: PacketType.Error, code: ErrorCode.BadSignature }, "an announcement its key did not sign: refused")
  t.match(sn.node.drops, { 'bad-certificate-signature': 1, 'bad-signature': 1 })
  t.notOk(sn.node.registry.edges.has(stranger.edgeId), 'the stranger is not registered')
})

t.test('at the supernode: a revocation that arrives while the verdict is out wins', async (t) => {
  const { sn, registerPacket } = await workerSupernode(t)
  const community = new TestAuthority()
  const device = community.issue({ role: 'device' })
  const member = community.issue()
  // the revocation needs the community known here: its device registers first
  const deviceFrom = { address: '127.0.0.72', port: 4102 }
  sn.receive(registerPacket(device.announce(), deviceFrom), deviceFrom.address, deviceFrom.port)
  await until('the device registered', () => sn.node.registry.edges.has(device.edgeId))
  const packet = registerPacket(member.announce())
  const before = sn.sent.length
  sn.receive(packet, EDGE.address, EDGE.port)
  sn.receive(community.revoke(member), deviceFrom.address, deviceFrom.port)
  await until('an answer to the REGISTER', () => sn.sent.slice(before).some((s) => s.address === EDGE.address))
  const answer = decoded(sn.sent.slice(before).find((s) => s.address === EDGE.address)!.packet)
  t.match(answer, { type: PacketType.Error, code: ErrorCode.CertificateRevoked }, 'refused as revoked, though its signatures verified')
  t.notOk(sn.node.registry.edges.has(member.edgeId), 'not registered')
  t.equal(sn.node.drops['certificate-revoked'], 1)

  // the same with a cached certificate: only the member signature goes to the worker
  const known = community.issue()
  const knownFrom = { address: '127.0.0.73', port: 4103 }
  sn.receive(registerPacket(known.announce(), knownFrom), knownFrom.address, knownFrom.port)
  await until('registered once', () => sn.node.registry.edges.has(known.edgeId))
  const again = registerPacket(known.announce(), knownFrom)
  const mark = sn.sent.length
  sn.receive(again, knownFrom.address, knownFrom.port)
  sn.receive(community.revoke(known), deviceFrom.address, deviceFrom.port)
  t.notOk(sn.node.registry.edges.has(known.edgeId), 'the revocation removed the registered edge at once')
  await until('the verdict given', () => sn.node.status().signatureChecks.waiting === 0)
  const toKnown = sn.sent.slice(mark).filter((s) => s.address === knownFrom.address).map((s) => decoded(s.packet))
  t.notOk(
    toKnown.some((p) => p.type === PacketType.RegisterAck),
    'no REGISTER_ACK after the revocation',
  )
  t.ok(
    toKnown.some((p) => p.type === PacketType.Error && p.code === ErrorCode.CertificateRevoked),
    'told: certificate revoked',
  )
  t.notOk(sn.node.registry.edges.has(known.edgeId), 'not registered again')
})

t.test('at the supernode: a flood of REGISTERs past the bound is dropped as verify-backlog; the first goes through', async (t) => {
  const { sn, registerPacket } = await workerSupernode(t)
  const member = new TestAuthority().issue()
  const packet = registerPacket(member.announce())
  // a fresh certificate costs two checks until its first verdict: 2,049 copies are 4,098 checks
  const copies = MAX_WAITING_CHECKS / 2 + 1
  for (let i = 0; i < copies; i++) sn.receive(packet, EDGE.address, EDGE.port)
  t.equal(sn.node.drops['verify-backlog'], 1, 'the one past the bound dropped')
  t.equal(sn.node.status().signatureChecks.waiting, MAX_WAITING_CHECKS, 'the bound held')
  await until('every verdict given', () => sn.node.status().signatureChecks.waiting === 0, 20_000)
  t.ok(sn.node.registry.edges.has(member.edgeId), 'registered')
  t.ok(sn.node.counters.registrations >= 1, 'acknowledged')
  t.match(sn.node.metrics(), /overlan_supernode_signature_checks_waiting 0/)
})

t.test('at the supernode: stopped with verdicts out, nothing is sent after the stop', async (t) => {
  const { sn, registerPacket } = await workerSupernode(t)
  const packet = registerPacket(new TestAuthority().issue().announce())
  sn.receive(packet, EDGE.address, EDGE.port)
  const sent = sn.sent.length
  await sn.node.stop()
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(sn.sent.length, sent, 'no answer after stop()')
})
