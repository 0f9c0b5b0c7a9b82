/**
 * The documentation is part of the repository: every Markdown link leads somewhere that
 * exists (no document outside the repository), and every rule a code comment cites is a
 * heading of docs/architecture.md.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { badCitations, brokenLinks, citedRules, headingSlugs, readIfExists, rel, walk } from '../helpers/docs-check.ts';

/** Built, not written, so no file in the repository names the folder outside it. */
const OUTSIDE_DIR = ['..', 'shared'].join('/');

const root = new URL('../..', import.meta.url).pathname;
const architecture = readFileSync(join(root, 'docs/architecture.md'), 'utf8');
const ruleNames = headingSlugs(
  architecture.slice(architecture.indexOf('\n## Rules'), architecture.indexOf('\n## Known pitfalls')),
);
const codeFolders = ['machines', 'src', 'adapters', 'test', 'scripts'];
const self = new URL(import.meta.url).pathname;
const isCode = (path: string): boolean => /\.(ts|mts|js|mjs|cjs|lua|sh)$/.test(path);

describe('documentation', () => {
  it('docs/architecture.md names the fifteen rules of the house as headings', () => {
    ruleNames.delete('rules');
    assert.equal(ruleNames.size, 15, [...ruleNames].join(', '));
    for (const name of ['ports-and-adapters', 'deadlines-are-data', 'shed-at-the-door'])
      assert.ok(ruleNames.has(name), name);
  });

  it('every relative link in every Markdown file of the repository leads to a file and heading that exist', () => {
    const files = walk(root, (p) => p.endsWith('.md'));
    assert.ok(files.length >= 10, `found only ${files.length} Markdown files`);
    const problems = files.flatMap((f) =>
      brokenLinks(f, readFileSync(f, 'utf8'), readIfExists).map((p) => `${rel(root, f)}: ${p}`),
    );
    assert.deepEqual(problems, []);
  });

  it('every code comment cites rules by a name docs/architecture.md has, never a document outside the repository', () => {
    // This file is left out: its samples of bad citations are there on purpose.
    const files = [
      ...codeFolders.flatMap((d) => walk(join(root, d), (p) => isCode(p) && p !== self)),
      ...walk(root, (p) => /\.(cjs|mjs)$/.test(p) && !p.slice(root.length).includes('/')),
    ];
    assert.ok(files.length > 100, `found only ${files.length} source files`);
    const problems = files.flatMap((f) =>
      badCitations(readFileSync(f, 'utf8'), ruleNames).map((p) => `${rel(root, f)}: ${p}`),
    );
    assert.deepEqual(problems, []);
  });

  it('marks what is not built yet in one greppable form: "(not yet built: issue N)" on one line', () => {
    const files = walk(root, (p) => p.endsWith('.md'));
    const loose = files.flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/\(\s*not\s+yet\s+built[^)]*\)?/g)]
        .map((m) => m[0])
        .filter((m) => !/^\(not yet built: issue (\d+|N)\)$/.test(m))
        .map((m) => `${rel(root, f)}: ${JSON.stringify(m)}`),
    );
    assert.deepEqual(loose, []);
  });

  it('each top-level code folder has a README', () => {
    for (const dir of codeFolders) assert.ok(readIfExists(join(root, dir, 'README.md')), `${dir}/README.md is missing`);
  });
});

describe('the documentation checks themselves', () => {
  const docs = join(root, 'docs');
  const fake = (files: Record<string, string>) => (path: string) => files[path] ?? null;

  it('reports a missing file, a missing heading, and any link outside the repository', () => {
    const read = fake({ [join(docs, 'a.md')]: '# Title\n## Two words\n', [join(root, 'README.md')]: '' });
    const text = [
      '[ok](a.md#two-words) [ok](../README.md) [web](https://example.com/x) [self](#title)',
      `[gone](missing.md) [anchor](a.md#nope) [out](../${OUTSIDE_DIR}/CONTRACT.md)`,
      '```\n[in code](nowhere.md)\n```',
      '`[in code span](nowhere.md)`',
      '[ref]: ./also-missing.md',
    ].join('\n');
    const self = join(docs, 'b.md');
    const problems = brokenLinks(self, `# Title\n${text}`, (p) => (p === self ? '# Title\n' : read(p)));
    assert.deepEqual(problems, [
      'missing.md: no such file',
      'a.md#nope: no heading #nope',
      `../${OUTSIDE_DIR}/CONTRACT.md: points outside the repository`,
      './also-missing.md: no such file',
    ]);
  });

  it('makes GitHub anchors from headings, numbering repeats', () => {
    assert.deepEqual(
      [...headingSlugs('# `POST /orders`\n## Topics (the wire contract)\n## A\n## A\n```\n# not a heading\n```')],
      ['post-orders', 'topics-the-wire-contract', 'a', 'a-1'],
    );
  });

  it('reports a rule name that is no heading, and citations of documents users do not have', () => {
    const rules = new Set(['store-is-truth', 'outbox-in-snapshot', 'deadlines-are-data']);
    const source = [
      '/** (rules `store-is-truth`, `outbox-in-snapshot`,',
      ' * `deadlines-are-data`; docs/architecture.md) and rule `no-such-rule`. */',
      '-- (rule `made-up` and `store-is-truth`)',
    ].join('\n');
    assert.deepEqual(citedRules(source), [
      'store-is-truth',
      'outbox-in-snapshot',
      'deadlines-are-data',
      'no-such-rule',
      'made-up',
      'store-is-truth',
    ]);
    assert.deepEqual(badCitations(source, rules), [
      'cites rule `no-such-rule`, not a heading of docs/architecture.md',
      'cites rule `made-up`, not a heading of docs/architecture.md',
    ]);
    const design = ['DESIGN', 'rule 7'].join(' ');
    assert.match(badCitations(`// deadlines (${design})`, rules)[0]!, /cites DESIGN rule/);
    assert.match(badCitations(`// see ${['CONTRACT', 'md'].join('.')}`, rules)[0]!, /cites CONTRACT\.md/);
    assert.match(badCitations(`// see ${['..', 'shared'].join('/')}/x`, rules)[0]!, /refers to \.\.\/shared/);
  });
});
