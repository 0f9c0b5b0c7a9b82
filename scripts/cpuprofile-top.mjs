#!/usr/bin/env node
// Prints the top self-time entries of a V8 .cpuprofile (from `node --cpu-prof`).
// Usage: node scripts/cpuprofile-top.mjs FILE.cpuprofile [--top N] [--by function|file|package]
//   function (default): one row per function and source line
//            tsx runs our .ts files whitespace-minified (one line each), so a position in
//            them is mapped back to the source line by transforming the file again the way
//            tsx does (esbuild: minifyWhitespace, keepNames, ESM, source map) and reading the
//            map; that uses the sources as they are now, so profile and map the same tree.
//   file:    one row per source file
//   package: node_modules/<package>, our top-level folders (src/saga, adapters/store, ...),
//            node internals, and V8's (garbage collector) / (program) / (idle)
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
const flag = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
};
const top = Number(flag('--top', '10'));
const by = flag('--by', 'function');
if (!file || !Number.isInteger(top) || top < 1 || !['function', 'file', 'package'].includes(by)) {
  process.stderr.write(
    'usage: node scripts/cpuprofile-top.mjs FILE.cpuprofile [--top N] [--by function|file|package]\n',
  );
  process.exit(2);
}

const profile = JSON.parse(readFileSync(file, 'utf8'));
const root = process.cwd();

function where(url) {
  if (!url) return '';
  let path = url;
  if (url.startsWith('file://')) {
    try {
      path = fileURLToPath(url);
    } catch {
      path = url;
    }
  }
  return path.startsWith('/') ? relative(root, path) : path;
}

function packageOf(path, name) {
  if (!path) return name.startsWith('(') ? name : '(native/V8)';
  if (path.startsWith('node:')) return 'node internals';
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 'node_modules/'.length).split('/');
    return `node_modules/${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const parts = path.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0];
}

// --- positions in tsx-transformed .ts files -> source lines --------------------------------
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Per generated line, the segments [generatedColumn, sourceLine] of a source map. */
function decodeMappings(mappings) {
  const lines = [];
  let srcLine = 0;
  for (const lineText of mappings.split(';')) {
    const segments = [];
    let genCol = 0;
    for (const seg of lineText.split(',')) {
      if (!seg) continue;
      const fields = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const digit = B64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += fields[0];
      if (fields.length >= 4) {
        srcLine += fields[2];
        segments.push([genCol, srcLine]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

let esbuild;
try {
  esbuild = createRequire(join(process.cwd(), 'package.json'))('esbuild');
} catch {
  esbuild = null;
}
const maps = new Map();

/** The 1-based source line of a 0-based position in a tsx-run .ts file, or null. */
function sourceLine(path, line, column) {
  if (!esbuild || !/\.[cm]?tsx?$/.test(path) || !existsSync(path)) return null;
  if (!maps.has(path)) {
    let entry = null;
    try {
      const source = readFileSync(path, 'utf8');
      const out = esbuild.transformSync(source, {
        target: `node${process.versions.node}`,
        loader: path.endsWith('x') ? 'tsx' : 'ts',
        sourcemap: true,
        minifyWhitespace: true,
        keepNames: true,
        format: 'esm',
        sourcefile: path,
      });
      entry = { lines: decodeMappings(JSON.parse(out.map).mappings), text: source.split('\n') };
    } catch {
      entry = null;
    }
    maps.set(path, entry);
  }
  const entry = maps.get(path);
  const segments = entry?.lines[line];
  if (!segments || segments.length === 0) return null;
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (segments[mid][0] <= column) lo = mid;
    else hi = mid - 1;
  }
  const src = segments[lo][1];
  return { line: src + 1, text: (entry.text[src] ?? '').trim().slice(0, 48) };
}

// Sample i lasts until sample i+1 (as Chrome DevTools counts it).
const selfUs = new Map();
const { samples = [], timeDeltas = [] } = profile;
for (let i = 0; i < samples.length; i++) {
  const dt = timeDeltas[i + 1] ?? 0;
  selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
}

const rows = new Map();
let totalUs = 0;
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0;
  if (us === 0) continue;
  totalUs += us;
  const { functionName, url, lineNumber, columnNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  const path = where(url);
  let key;
  if (by === 'function') {
    const mapped = path && url.startsWith('file://') ? sourceLine(fileURLToPath(url), lineNumber, columnNumber) : null;
    const at = mapped ? `${path}:${mapped.line}` : path ? `${path}:${lineNumber + 1}` : '';
    key = `${name}  ${at}${mapped && !functionName ? `  \`${mapped.text}\`` : ''}`;
  } else key = by === 'file' ? path || name : packageOf(path, name);
  rows.set(key, (rows.get(key) ?? 0) + us);
}

const wallMs = (profile.endTime - profile.startTime) / 1000;
const sorted = [...rows.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
process.stdout.write(
  `${file}: ${(wallMs / 1000).toFixed(1)} s profiled, ${(totalUs / 1000).toFixed(0)} ms sampled; top ${top} by self time (${by})\n`,
);
process.stdout.write(`${'self ms'.padStart(9)} ${'%'.padStart(6)}  ${by}\n`);
for (const [key, us] of sorted) {
  process.stdout.write(
    `${(us / 1000).toFixed(0).padStart(9)} ${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${key}\n`,
  );
}
