#!/usr/bin/env node
// Node 20's `node --test` neither finds .ts files nor expands globs, so this script finds
// every test/**/*.test.ts itself, says how many files it runs, and runs them through tsx.
// Before the tests: the type check and the layering rules (dependency-cruiser).
// Usage: npm test [-- <substring filter> ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path);
    return name.endsWith('.test.ts') ? [relative(root, path)] : [];
  });
}

function run(label, cmd, args, env = {}) {
  process.stdout.write(`\n== ${label}\n`);
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (res.status !== 0) {
    process.stdout.write(`\n${label} failed (exit ${res.status ?? res.signal})\n`);
    process.exit(res.status ?? 1);
  }
}

const files = find(join(root, 'test'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  process.stdout.write('no test files matched\n');
  process.exit(1);
}

if (filters.length === 0) {
  run('type check (tsc --noEmit)', 'npx', ['tsc', '--noEmit', '-p', '.']);
  run('layering (dependency-cruiser)', 'npx', [
    'depcruise',
    '--config',
    '.dependency-cruiser.cjs',
    'machines',
    'src',
    'adapters',
  ]);
}
process.stdout.write(`\n== running ${files.length} test files:\n${files.map((f) => `   ${f}`).join('\n')}\n`);
run('tests (node:test)', process.execPath, ['--import', 'tsx', '--test', '--test-reporter', 'spec', ...files]);
