// Signed peer records (membership + edge identity) and stateless registration cookies.
import t from 'tap'
import { CookieMinter, generateEdgeIdentity, signRecord, verifyRecord } from '../../src/crypto/index.js'
import { decodePacket, encodeRegister, PacketType, type PeerRecord } from '../../src/wire/index.js'
import { fakeCommunityKeys } from '../fixtures/sample-packets.js'

function decodeRecord(record: Buffer): PeerRecord {
  const result = decodePacket(encodeRegister(Buffer.alloc(8), Buffer.alloc(20), record))
  if (!result.ok || result.value.type !== PacketType.Register) throw new Error('sample did not decode')
  return result.value.record
}

const fields = { timestamp: 1, mac: Buffer.from('020000000001', 'hex'), overlay: null, name: '', candidates: [] }

t.test('a record signed by a member verifies and names its edge ID', (t) => {
  const keys = fakeCommunityKeys()
  const edge = generateEdgeIdentity()
  const verdict = verifyRecord(decodeRecord(signRecord(fields, keys, edge)), keys.signPublicKey)
  t.same(verdict, { ok: true, edgeId: edge.edgeId, communityId: keys.communityId })
  t.end()
})

t.test('a changed byte in the record breaks a signature', (t) => {
  const keys = fakeCommunityKeys()
  const bytes = signRecord(fields, keys, generateEdgeIdentity())
  let refused = 0
  let checked = 0
  for (let i = 0; i < bytes.length; i++) {
    const copy = Buffer.from(bytes)
    copy[i]! ^= 0x01
    let record: PeerRecord
    try {
      record = decodeRecord(copy)
    } catch {
      refused++ // the codec refused it already (e.g. MAC turned multicast)
      continue
    }
    checked++
    if (!verifyRecord(record).ok) refused++
  }
  t.equal(refused, bytes.length, `every one of ${bytes.length} changes refused (${checked} reached the signature check)`)
  t.end()
})

t.test('a record of another community is refused by an edge', (t) => {
  const record = decodeRecord(signRecord(fields, fakeCommunityKeys(1), generateEdgeIdentity()))
  t.same(verifyRecord(record, fakeCommunityKeys(2).signPublicKey), { ok: false, reason: 'foreign-community' })
  t.end()
})

t.test('cookies: bound to nonce and endpoint, and expire', (t) => {
  const minter = new CookieMinter(30)
  const nonce = Buffer.from('0011223344556677', 'hex')
  const endpoint = Buffer.from('04 1f90 7f000001'.replace(/ /g, ''), 'hex')
  const cookie = minter.mint(1000, nonce, endpoint)
  t.ok(minter.check(1000, cookie, nonce, endpoint), 'fresh cookie accepted')
  t.ok(minter.check(1030, cookie, nonce, endpoint), 'accepted until its lifetime ends')
  t.notOk(minter.check(1031, cookie, nonce, endpoint), 'expired')
  t.notOk(minter.check(999, cookie, nonce, endpoint), 'from the future')
  t.notOk(minter.check(1000, cookie, Buffer.alloc(8), endpoint), 'other nonce')
  t.notOk(minter.check(1000, cookie, nonce, Buffer.from('041f907f000002', 'hex')), 'other source address')
  t.notOk(new CookieMinter(30).check(1000, cookie, nonce, endpoint), 'another supernode (or a restart) does not accept it')
  t.notOk(minter.check(1000, cookie.subarray(0, 19), nonce, endpoint), 'short cookie')
  t.end()
})
