/** The layering of docs/architecture.md, enforced in `npm test`. */
module.exports = {
  forbidden: [
    {
      name: 'machines-are-pure',
      comment:
        'machines/ holds pure XState definitions: nothing but xstate (rule `pure-machine`, docs/architecture.md)',
      severity: 'error',
      from: { path: '^machines/' },
      to: { pathNot: ['^machines/', 'node_modules/xstate/'] },
    },
    {
      name: 'clients-only-in-adapters',
      comment:
        'kafkajs, ioredis and redlock are imported in adapters/ alone (rule `ports-and-adapters`, docs/architecture.md)',
      severity: 'error',
      from: { pathNot: '^adapters/' },
      to: { path: 'node_modules/(kafkajs|ioredis|redlock)/' },
    },
    {
      name: 'ports-not-adapters',
      comment:
        'workers, the saga host, the api and messaging see ports only; the composition roots (src/system.ts, src/system-adapters.ts, and the operator tool src/dlq/cli.ts) pick adapters',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(system(-adapters)?|dlq/cli)\\.ts$' },
      to: { path: '^adapters/' },
    },
    {
      name: 'adapters-implement-ports',
      comment: 'adapters may use ports, errors, topics and small utilities, never workers, the saga or the api',
      severity: 'error',
      from: { path: '^adapters/' },
      to: { path: '^src/(workers|saga|api|system|main)' },
    },
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
