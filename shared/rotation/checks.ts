// Named pure checks on one credential, evaluated as a chain where the first violation wins
// (cert-manager's policy chain). Time is a parameter; nothing here reads a store or a clock.
import type { Side } from '../link/names.js';
import type { CaFacts, IssuerTarget, LeafFacts } from './facts.js';

export type LeafReason =
  | 'CredentialMissing'
  | 'Forced'
  | 'KeyMismatch'
  | 'WrongHost'
  | 'WrongIdentity'
  | 'NotIssuedBySigningCa'
  | 'NotYetValid'
  | 'Expired'
  | 'NearingExpiry'
  | 'TrustMismatch';

export type CaReason = 'CaMissing' | 'CaExpired' | 'CaNearingExpiry' | 'IssuerChanged';

export interface Violation<R extends string = string> {
  reason: R;
  message: string;
}

export interface LeafCheckInput {
  side: Side;
  host: string;
  identity: string;
  signingGeneration: number;
  /** CA generations the side's `ca.crt` must hold in the current phase. */
  expectedTrust: number[];
  leaf?: LeafFacts;
  /** The side's ca.crt holds a partner's CAs (certificates none of ours, by design). */
  partnerTrust?: boolean;
  /** Fingerprint a forced rotation must replace on this side. */
  forcedFingerprint?: string;
}

export type LeafCheck = (input: LeafCheckInput) => Violation<LeafReason> | undefined;
export type CaCheck = (ca: CaFacts | undefined) => Violation<CaReason> | undefined;

const violation = <R extends string>(reason: R, message: string): Violation<R> => ({ reason, message });

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && [...a].sort().join(',') === [...b].sort().join(',');
}

export const CredentialMissing: LeafCheck = ({ side, leaf }) => (leaf ? undefined : violation('CredentialMissing', `the ${side} credential does not exist`));

export const Forced: LeafCheck = ({ side, leaf, forcedFingerprint }) =>
  leaf && forcedFingerprint !== undefined && leaf.fingerprint === forcedFingerprint ? violation('Forced', `a forced rotation replaces the ${side} certificate`) : undefined;

export const KeyMismatch: LeafCheck = ({ side, leaf }) =>
  leaf?.payload && !leaf.payload.keyMatches ? violation('KeyMismatch', `the ${side} private key does not match its certificate`) : undefined;

export const WrongHost: LeafCheck = ({ side, host, leaf }) =>
  leaf?.payload && !leaf.payload.dnsNames.includes(host) ? violation('WrongHost', `the ${side} certificate does not name ${host}`) : undefined;

export const WrongIdentity: LeafCheck = ({ side, identity, leaf }) =>
  leaf?.payload && !leaf.payload.uris.includes(identity) ? violation('WrongIdentity', `the ${side} certificate does not carry ${identity}`) : undefined;

export const NotIssuedBySigningCa: LeafCheck = ({ side, leaf, signingGeneration }) => {
  if (!leaf) return undefined;
  if (leaf.caGeneration !== signingGeneration || (leaf.payload && !leaf.payload.issuedBy.includes(signingGeneration))) {
    return violation('NotIssuedBySigningCa', `the ${side} certificate is not signed by CA generation ${signingGeneration}`);
  }
  return undefined;
};

/** Back-dating covers the usual skew; a notBefore further ahead than `maxSkewMs` is a broken certificate. */
export const NotYetValid =
  (now: Date, maxSkewMs: number): LeafCheck =>
  ({ side, leaf }) =>
    leaf && leaf.notBefore.getTime() - now.getTime() > maxSkewMs ? violation('NotYetValid', `the ${side} certificate is not valid before ${leaf.notBefore.toISOString()}`) : undefined;

export const Expired =
  (now: Date): LeafCheck =>
  ({ side, leaf }) =>
    leaf && now >= leaf.notAfter ? violation('Expired', `the ${side} certificate expired at ${leaf.notAfter.toISOString()}`) : undefined;

export const NearingExpiry =
  (now: Date): LeafCheck =>
  ({ side, leaf }) =>
    leaf && now >= leaf.renewAt ? violation('NearingExpiry', `the ${side} certificate is due for renewal since ${leaf.renewAt.toISOString()}`) : undefined;

/** The side's `ca.crt` (as recorded, and as stored when the payload was read) holds exactly the phase's CAs. */
export const TrustMismatch: LeafCheck = ({ side, leaf, expectedTrust, partnerTrust }) => {
  if (!leaf) return undefined;
  const stored = leaf.payload;
  if (!sameSet(leaf.trust, expectedTrust) || (stored && (!sameSet(stored.trust, expectedTrust) || (stored.foreignTrust > 0 && !partnerTrust)))) {
    return violation('TrustMismatch', `the ${side} ca.crt must hold CA generation(s) ${expectedTrust.join(', ')}`);
  }
  return undefined;
};

/** The leaf chain, most urgent first. Everything before NearingExpiry means handshakes may fail now. */
export function leafPolicy(now: Date, maxSkewMs: number): LeafCheck[] {
  return [CredentialMissing, Forced, KeyMismatch, WrongHost, WrongIdentity, NotIssuedBySigningCa, NotYetValid(now, maxSkewMs), Expired(now), NearingExpiry(now), TrustMismatch];
}

export const CaMissing: CaCheck = (ca) => (ca ? undefined : violation('CaMissing', 'the link has no signing CA'));

export const CaExpired =
  (now: Date): CaCheck =>
  (ca) =>
    ca && now >= ca.notAfter ? violation('CaExpired', `CA generation ${ca.generation} expired at ${ca.notAfter.toISOString()}`) : undefined;

export const CaNearingExpiry =
  (now: Date): CaCheck =>
  (ca) =>
    ca && now >= ca.renewAt ? violation('CaNearingExpiry', `CA generation ${ca.generation} is due for rollover since ${ca.renewAt.toISOString()}`) : undefined;

/**
 * The CA is not under the issuer the link names now: the spec's issuer changed (to another, to
 * one, or to none), or the issuer's bundle was replaced (a new root, or a new issuing CA under the
 * same root). A CA recorded before its issuing CA was kept is judged by its roots alone.
 */
export const IssuerChanged =
  (issuer: IssuerTarget | undefined): CaCheck =>
  (ca) => {
    if (!ca) return undefined;
    const changed = (message: string) => violation('IssuerChanged', `CA generation ${ca.generation} ${message}`);
    if (!issuer) return ca.anchors ? changed(`is under issuer ${ca.issuer ?? 'of an organisation'}; the link's CAs are now its own`) : undefined;
    if (!ca.anchors) return changed(`is the link's own; the link is now under issuer ${issuer.name}`);
    if (ca.issuer !== undefined && ca.issuer !== issuer.name) return changed(`is under issuer ${ca.issuer}; the link is now under issuer ${issuer.name}`);
    if (issuer.root && !ca.anchors.includes(issuer.root)) return changed(`is under another root than issuer ${issuer.name}'s`);
    if (issuer.issuing && ca.issuing && ca.issuing !== issuer.issuing) return changed(`is signed by another issuing CA than issuer ${issuer.name}'s`);
    return undefined;
  };

export function caPolicy(now: Date, issuer?: IssuerTarget): CaCheck[] {
  return [CaMissing, CaExpired(now), CaNearingExpiry(now), IssuerChanged(issuer)];
}

/** Runs a chain: the first violation wins. */
export function firstViolation<I, R extends string>(chain: readonly ((input: I) => Violation<R> | undefined)[], input: I): Violation<R> | undefined {
  for (const check of chain) {
    const v = check(input);
    if (v) return v;
  }
  return undefined;
}
