// Why the codec refused a datagram: a closed set of names, each one a drop counter.
// The edge and the supernode add their own reasons (authentication, filtering, limits)
// in their own modules; these are only the ones that need nothing but the bytes.

export const CODEC_REASONS = [
  'truncated', // shorter than its type's layout says
  'oversized', // longer than MAX_PACKET_BYTES
  'bad-version',
  'old-protocol', // version 1 (overlan 0.1): counted apart, so that an operator sees what to upgrade
  'unknown-type',
  'trailing-bytes', // longer than its type's layout says
  'nonzero-reserved', // a reserved byte, padding or flag bit that must be zero is not
  'bad-endpoint', // unknown address family, port 0, or junk after an IPv4 address
  'bad-overlay-address', // prefix out of range, or an address without a prefix
  'bad-mac', // multicast or all-zero MAC where an edge's own MAC is required
  'bad-timestamp', // above 2^53 - 1
  'bad-name', // name longer than allowed or not UTF-8
  'too-many-candidates',
  'bad-edge-id', // zero where an edge ID is required, or above 2^53 - 1
  'bad-counter', // zero, or above 2^53 - 1
  'bad-query-kind',
  'bad-error-code',
  'bad-certificate-length', // an announcement's certificate length outside MIN..MAX_CERTIFICATE_BYTES
  'bad-certificate', // an announcement's certificate that does not decode (certificate.ts says why)
  'bad-revocation', // a REVOCATION whose revocation does not decode
  'bad-inner-packet', // a RELAY whose inner packet is no session packet, or broadcast not to everyone
  'bad-enroll-kind', // an ENROLL whose flags name no leg (enroll.ts)
  'bad-enroll-step', // an ENROLL whose step is none of the enrollment's messages
] as const

export type CodecReason = (typeof CODEC_REASONS)[number]

/** A decoder's answer; decoders of things other than datagrams (certificates) name their own reason set. */
export type Decoded<T, R extends string = CodecReason> = { ok: true; value: T } | { ok: false; reason: R }

/** One counter per reason, as plain numbers: cheap enough to bump on the hot path. */
export type ReasonCounters<R extends string> = Record<R, number>

export function zeroCounters<R extends string>(reasons: readonly R[]): ReasonCounters<R> {
  const counters = {} as ReasonCounters<R>
  for (const reason of reasons) counters[reason] = 0
  return counters
}
