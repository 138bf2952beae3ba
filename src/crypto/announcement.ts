// Signing and checking announcements (layout in wire/announcement.ts): the member signature proves
// that whoever holds the certificate's member key made this announcement, with this timestamp and
// these candidates. The certificate itself is checked on its own (certificate.ts): an announcement
// is good only when both are.
import { encodeAnnouncement, encodeAnnouncementBody, type Announcement } from '../wire/announcement.js'
import type { Endpoint } from '../wire/fields.js'
import { sign, verify } from './sign.js'

/** A whole announcement, signed by `identity` (whose public key the certificate must bind). */
export function signAnnouncement(identity: { secretKey: Buffer }, certificate: Uint8Array, timestamp: number, candidates: readonly Endpoint[]): Buffer {
  const body = encodeAnnouncementBody(certificate, timestamp, candidates)
  return encodeAnnouncement(body, sign('announcement', body, identity.secretKey))
}

/** The member signature, by the key the announcement's certificate binds. */
export function verifyAnnouncementSignature(announcement: Announcement): boolean {
  return verify('announcement', announcement.body, announcement.signature, announcement.certificate.memberKey)
}
