/**
 * The image and compose file, read as text (no Docker engine needed): the runtime stage
 * holds production dependencies only and runs as a non-root user, every package the
 * roles import is a production dependency (tsx included: it launches them), and compose
 * has no default admin token.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { NODE_FLAGS } from '../../src/node-flags.ts';
import { walk } from '../helpers/docs-check.ts';

const root = new URL('../..', import.meta.url).pathname;
const read = (path: string): string => readFileSync(root + path, 'utf8');

/** The Dockerfile's stages: each FROM line starts one; comments and blank lines dropped. */
function stages(dockerfile: string): string[][] {
  const out: string[][] = [];
  for (const line of dockerfile.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    if (/^FROM\s/i.test(line)) out.push([]);
    out[out.length - 1]?.push(line);
  }
  return out;
}

describe('Dockerfile', () => {
  const all = stages(read('Dockerfile'));
  const runtime = all[all.length - 1]!;

  it('builds in stages; the runtime stage installs nothing itself and takes node_modules from an --omit=dev install', () => {
    assert.ok(all.length >= 2, 'multi-stage');
    const from = runtime.find((l) => /^COPY\s+--from=\S+\s+\S*node_modules/.test(l));
    assert.ok(from, 'the runtime stage copies node_modules from a build stage');
    const stageName = /--from=(\S+)/.exec(from)![1]!;
    const builder = all.find((s) => new RegExp(`^FROM\\s+\\S+\\s+AS\\s+${stageName}$`, 'i').test(s[0]!));
    assert.ok(builder, `stage ${stageName} exists`);
    assert.ok(
      builder.some((l) => /\bnpm ci\b.*--omit=dev/.test(l)),
      `stage ${stageName} installs with npm ci --omit=dev`,
    );
    assert.ok(!runtime.some((l) => /\bnpm (ci|install|i)\b/.test(l)), 'no install in the runtime stage');
  });

  it('runs as the unprivileged node user, through node --import tsx (no npx)', () => {
    const users = runtime.filter((l) => /^USER\s/i.test(l));
    assert.deepEqual(users, ['USER node']);
    const entry = runtime.find((l) => /^ENTRYPOINT\s/i.test(l));
    assert.equal(
      entry,
      `ENTRYPOINT ${JSON.stringify(['node', ...NODE_FLAGS, '--import', 'tsx', 'src/main.ts'])}`.replaceAll(',', ', '),
    );
    assert.ok(runtime.indexOf('USER node') < runtime.indexOf(entry), 'USER comes before the entry point');
  });

  it('every package the running code imports is a production dependency, tsx included', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    const imported = new Set<string>(['tsx']);
    for (const dir of ['src', 'adapters', 'machines'])
      for (const file of walk(root + dir, (p) => p.endsWith('.ts')))
        for (const m of readFileSync(file, 'utf8').matchAll(/(?:\bfrom\s+|\bimport\(\s*)'(@?[a-z][\w./@-]*)'/g)) {
          const spec = m[1]!;
          if (spec.startsWith('node:')) continue;
          imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
        }
    const missing = [...imported].filter((name) => !(name in pkg.dependencies));
    assert.deepEqual(missing, [], 'imported but not in dependencies');
  });
});

describe('Node flags', () => {
  it('npm start and npm run load start Node with src/node-flags.ts, as the image and the chaos roles do', () => {
    const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    assert.equal(scripts.start, `tsx ${NODE_FLAGS.join(' ')} src/main.ts all`);
    assert.equal(scripts.load, `tsx ${NODE_FLAGS.join(' ')} src/load/cli.ts`);
    assert.match(read('src/chaos/roles.ts'), /spawn\(process\.execPath, \[\.\.\.NODE_FLAGS, '--import', 'tsx'/);
  });
});

describe('docker-compose.yml', () => {
  const compose = read('docker-compose.yml');

  it('refuses to start without an ADMIN_TOKEN and ships none', () => {
    assert.match(compose, /ADMIN_TOKEN: \$\{ADMIN_TOKEN:\?[^}]+\}/);
    assert.ok(!/ADMIN_TOKEN:-/.test(compose), 'no default token');
    assert.ok(!/change-me/.test(compose));
  });
});
