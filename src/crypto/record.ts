// Making and checking signed peer records (layout in wire/fields.ts): the community signature
// proves membership, the edge signature proves the edge ID belongs to whoever registers it.
import { encodeRecord, encodeRecordBody } from '../wire/control.js'
import type { PeerRecord, RecordBody } from '../wire/fields.js'
import { communityIdOf, edgeIdOf, type CommunityKeys, type EdgeIdentity } from './keys.js'
import { sign, verify } from './sign.js'

export function signRecord(fields: Omit<RecordBody, 'communityKey' | 'edgeKey'>, community: CommunityKeys, edge: EdgeIdentity): Buffer {
  const body = encodeRecordBody({ ...fields, communityKey: community.signPublicKey, edgeKey: edge.publicKey })
  return encodeRecord(body, sign('record', body, community.signSecretKey), sign('record', body, edge.secretKey))
}

export type RecordVerdict = { ok: true; edgeId: number; communityId: Buffer } | { ok: false; reason: 'bad-signature' | 'foreign-community' | 'bad-edge-id' }

/**
 * Checks both signatures; with `expectedCommunityKey`, also that the record is of that community
 * (what an edge checks of peers; the supernode checks against the community ID instead).
 */
export function verifyRecord(record: PeerRecord, expectedCommunityKey?: Buffer): RecordVerdict {
  if (expectedCommunityKey !== undefined && !record.communityKey.equals(expectedCommunityKey)) return { ok: false, reason: 'foreign-community' }
  if (!verify('record', record.body, record.communitySignature, record.communityKey)) return { ok: false, reason: 'bad-signature' }
  if (!verify('record', record.body, record.edgeSignature, record.edgeKey)) return { ok: false, reason: 'bad-signature' }
  const edgeId = edgeIdOf(record.edgeKey)
  if (edgeId === 0) return { ok: false, reason: 'bad-edge-id' }
  return { ok: true, edgeId, communityId: communityIdOf(record.communityKey) }
}
