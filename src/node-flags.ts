/**
 * Node flags every long-running process of this project starts with: `npm start`,
 * `npm run load`, the image's entry point and the chaos command's roles (a unit test holds
 * them to this list).
 *
 * `--max-semi-space-size=64` (MB; Node 20's default is 16): an order's objects live for
 * its few hops, tens of milliseconds, which with the default young generation is two
 * scavenges, so most of them were promoted and collected again by full mark-compacts.
 * With 64 MB fewer survive: 0.91x the CPU per run, measured in BENCHMARKS.md ("The young
 * generation"), for about 90 MB more resident memory per process.
 */
export const NODE_FLAGS = ['--max-semi-space-size=64'] as const;
