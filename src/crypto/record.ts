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
  const verdict = verifyMembership(record)
  if (verdict.ok && !verifyEdgeSignature(record)) return { ok: false, reason: 'bad-signature' }
  return verdict
}

/**
 * The community signature alone: the record was made by a member. The supernode checks this on
 * every REGISTER and the edge signature only once it relies on the edge ID (see supernode.ts).
 */
export function verifyMembership(record: PeerRecord): RecordVerdict {
  if (!verify('record', record.body, record.communitySignature, record.communityKey)) return { ok: false, reason: 'bad-signature' }
  const edgeId = edgeIdOf(record.edgeKey)
  if (edgeId === 0) return { ok: false, reason: 'bad-edge-id' }
  return { ok: true, edgeId, communityId: communityIdOf(record.communityKey) }
}

/** The edge signature: the record was made by whoever holds the edge key, so the edge ID is theirs. */
export function verifyEdgeSignature(record: PeerRecord): boolean {
  return verify('record', record.body, record.edgeSignature, record.edgeKey)
}
