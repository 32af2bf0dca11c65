/**
 * The hash chain over audit events. Every stored event has a gapless
 * sequence number `seq` (1, 2, 3… per store) and
 *
 *     hash = SHA-256( canonicalJson({ v: 1, seq, prevHash, event }) )   (lower-case hex)
 *
 * where `prevHash` is the hash of event `seq − 1`, or {@link GENESIS_HASH}
 * for the first event. Editing, deleting, inserting or reordering a record
 * breaks a link that {@link verifyAuditStore} (verify.ts) finds.
 *
 * @module
 */

import { hash } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import type { AuditEvent } from './event.js';

/** `prevHash` of event 1. */
export const GENESIS_HASH = '0'.repeat(64);

/** Where the chain ends: the last event's seq and hash (0 and GENESIS_HASH when empty). */
export interface ChainHead {
  seq: number;
  hash: string;
}

export const EMPTY_HEAD: ChainHead = Object.freeze({ seq: 0, hash: GENESIS_HASH });

/** An event as stored: its place in the chain and the event. */
export interface ChainedEvent {
  seq: number;
  prevHash: string;
  hash: string;
  event: AuditEvent;
  /** The canonical encoding of `event`, as stored. */
  eventJson: string;
}

/**
 * The hash of event `seq` linked after `prevHash`. `event` is the event as
 * parsed from the store (or the canonical text itself).
 *
 * @example
 * chainHash(GENESIS_HASH, 1, event) === stored.hash
 */
export function chainHash(prevHash: string, seq: number, event: unknown): string {
  return chainHashOfJson(prevHash, seq, canonicalJson(event));
}

/**
 * {@link chainHash} for an event already in canonical form: the canonical
 * encoding of `{ v, seq, prevHash, event }` is spelled out (keys sorted) so the
 * event is not encoded twice.
 */
export function chainHashOfJson(prevHash: string, seq: number, eventJson: string): string {
  // One call, no Hash object: this runs for every recorded request.
  return hash('sha256', `{"event":${eventJson},"prevHash":${JSON.stringify(prevHash)},"seq":${seq},"v":1}`, 'hex');
}

/** An event and its canonical encoding, made once when the event is queued (a bad event fails there, alone). */
export interface EncodedEvent {
  event: AuditEvent;
  json: string;
}

export function encodeEvent(event: AuditEvent): EncodedEvent {
  return { event, json: canonicalJson(event) };
}

/**
 * Links a batch of new events after `head`, in order; the store writes the
 * result and the new head in the same transaction that read `head`.
 *
 * @example
 * const { events, head: next } = linkEvents(head, batch.map(encodeEvent));
 */
export function linkEvents(head: ChainHead, events: readonly EncodedEvent[]): { events: ChainedEvent[]; head: ChainHead } {
  let { seq, hash } = head;
  const linked = events.map(({ event, json }): ChainedEvent => {
    seq += 1;
    const next = chainHashOfJson(hash, seq, json);
    const row = { seq, prevHash: hash, hash: next, event, eventJson: json };
    hash = next;
    return row;
  });
  return { events: linked, head: { seq, hash } };
}
