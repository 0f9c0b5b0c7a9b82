/**
 * W3C trace context (https://www.w3.org/TR/trace-context/): the `traceparent` header,
 * `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`, carried in message headers from
 * the HTTP request through every step of the order. Each hop keeps the trace id and takes
 * a new span id. Ids come from a pooled random buffer: this runs on every message.
 */
import { randomFillSync } from 'node:crypto';

export const TRACEPARENT = 'traceparent';

export interface TraceContext {
  traceId: string;
  spanId: string;
  flags: string;
}

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** Lower-case hex between `from` and `to` (a char-code loop: this runs on every message). */
function isHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** Null for anything that is not a valid traceparent (version ff, all-zero ids, bad hex...). */
export function parseTraceparent(header: string | undefined | null): TraceContext | null {
  if (typeof header !== 'string') return null;
  return parseExact(header) ?? (header.length >= 55 ? parseExact(header.trim().toLowerCase()) : null);
}

function parseExact(h: string): TraceContext | null {
  if (h.length < 55 || h.charCodeAt(2) !== 45 || h.charCodeAt(35) !== 45 || h.charCodeAt(52) !== 45) return null; // '-'
  if (!isHex(h, 0, 2) || !isHex(h, 3, 35) || !isHex(h, 36, 52) || !isHex(h, 53, 55)) return null;
  const version = h.slice(0, 2);
  // Version 00 has exactly four fields; a later version may append more (which we drop).
  if (version === 'ff' || (version === '00' ? h.length !== 55 : h.length > 55 && h.charCodeAt(55) !== 45)) return null;
  const traceId = h.slice(3, 35);
  const spanId = h.slice(36, 52);
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId, spanId, flags: h.slice(53, 55) };
}

export const formatTraceparent = (t: TraceContext): string => `00-${t.traceId}-${t.spanId}-${t.flags}`;

const pool = Buffer.alloc(4096);
let used = pool.length;

function randomHex(bytes: number): string {
  for (;;) {
    if (used + bytes > pool.length) {
      randomFillSync(pool);
      used = 0;
    }
    const hex = pool.toString('hex', used, used + bytes);
    used += bytes;
    // All zeros is invalid in W3C trace context; astronomically rare, but cheap to refuse.
    if (hex !== ZERO_TRACE && hex !== ZERO_SPAN) return hex;
  }
}

/** A new trace (sampled). */
export const newTrace = (): TraceContext => ({ traceId: randomHex(16), spanId: randomHex(8), flags: '01' });

/** The next hop: same trace id, new span id. An invalid or missing parent starts a new trace. */
export function childTrace(parent: string | TraceContext | undefined | null): TraceContext {
  const p = typeof parent === 'string' || parent == null ? parseTraceparent(parent) : parent;
  return p ? { traceId: p.traceId, spanId: randomHex(8), flags: p.flags } : newTrace();
}

/** A child of a trace known only by its id (e.g. stored with the order): a new span, sampled. */
export const childOfTraceId = (traceId: string): TraceContext => ({ traceId, spanId: randomHex(8), flags: '01' });
