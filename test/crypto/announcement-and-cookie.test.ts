// Announcements (certificate + candidates, signed by the member key) and stateless registration cookies.
import t from 'tap'
import { CookieMinter, checkCertificate, verifyAnnouncementSignature } from '../../src/crypto/index.js'
import { decodeAnnouncement, type Announcement } from '../../src/wire/index.js'
import { testAnnouncement, testAuthority, testMember } from '../fixtures/members.js'

function decoded(bytes: Buffer): Announcement {
  const result = decodeAnnouncement(bytes)
  if (!result.ok) throw new Error(`sample did not decode: ${result.reason}`)
  return result.value
}

t.test('an announcement signed by the member its certificate names verifies, and says where it is', (t) => {
  const member = testMember(testAuthority())
  const a = decoded(testAnnouncement(member, 1, [{ family: 4, address: '192.168.1.2', port: 7000 }]))
  t.ok(verifyAnnouncementSignature(a))
  t.ok(a.certificate.memberKey.equals(member.identity.publicKey))
  t.same(a.candidates, [{ family: 4, address: '192.168.1.2', port: 7000 }])
  t.end()
})

t.test("an announcement signed by another key than its certificate's is refused", (t) => {
  const authority = testAuthority()
  const victim = testMember(authority)
  const thief = testMember(authority)
  // the thief copies the victim's certificate (it travels in the clear) and signs with its own key
  const forged = decoded(testAnnouncement({ ...thief, certificate: victim.certificate }, 2))
  t.notOk(verifyAnnouncementSignature(forged), "the member signature must be by the certificate's key")
  t.end()
})

t.test('a changed byte anywhere in the announcement breaks one of its two signatures, or does not decode', (t) => {
  const authority = testAuthority()
  const member = testMember(authority)
  const bytes = testAnnouncement(member, 1, [{ family: 6, address: 'fd00::2', port: 7000 }])
  const options = { communityId: authority.communityId, nowSeconds: Math.floor(Date.now() / 1000) }
  let refused = 0
  let checked = 0
  for (let i = 0; i < bytes.length; i++) {
    const copy = Buffer.from(bytes)
    copy[i]! ^= 0x01
    const result = decodeAnnouncement(copy)
    if (!result.ok) {
      refused++ // the codec refused it already (e.g. MAC turned multicast, a length changed)
      continue
    }
    checked++
    if (!verifyAnnouncementSignature(result.value) || !checkCertificate(result.value.certificate.bytes, options).ok) refused++
  }
  t.equal(refused, bytes.length, `every one of ${bytes.length} changes refused (${checked} reached the signature checks)`)
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
