/**
 * Ports for services a run stops and starts again on the same port (a restarted broker,
 * Redis on its AOF, a role started again). They come from below the kernel's ephemeral
 * range: a port from inside it is free for any outgoing connection while its server is
 * down, and a client retrying 127.0.0.1:P can even be given P as its own source port and
 * connect to itself (TCP simultaneous open). Either way the restart fails with "Address
 * already in use". One chaos CI run lost a Kafka restart on an ephemeral port ("Kafka
 * exited during startup"; its log did not survive the run): this is the cause that fits.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Lowest port handed out; below it are the well-known and commonly configured ports. */
const FLOOR = 10_000;

/** The first port of the kernel's ephemeral range (Linux default 32768 where unreadable). */
export function ephemeralFloor(rangeFile = '/proc/sys/net/ipv4/ip_local_port_range'): number {
  try {
    const low = Number(readFileSync(rangeFile, 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > FLOOR + 1_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Whether nothing listens on the loopback port right now. */
export function isFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A loopback port below the ephemeral range, free a moment ago, with `span` free ports
 * from it (Kafka takes the next one for its controller). Two callers can still pick the
 * same port between this probe and their bind; callers retry on "Address already in use".
 */
export async function restartablePort(span = 1): Promise<number> {
  const top = ephemeralFloor() - span;
  for (let tries = 0; tries < 1_000; tries++) {
    const port = randomInt(FLOOR, top);
    let free = true;
    for (let i = 0; i < span && free; i++) free = await isFree(port + i);
    if (free) return port;
  }
  throw new Error(`no ${span} free loopback port(s) between ${FLOOR} and ${top + span}`);
}
