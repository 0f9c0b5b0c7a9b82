/**
 * Checks that keep the repository's documentation honest, as pure functions over text so
 * the test can prove each one catches what it should: Markdown links that lead nowhere,
 * references to documents outside the repository, and code comments that cite a rule
 * docs/architecture.md does not define.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** Where the project's planning documents live outside the repository; users never have them. */
const OUTSIDE = ['..', 'shared'].join('/');
/** Citations of those documents, which no user can open. */
const FOREIGN_CITATION = new RegExp(['DESIGN(\\.md|\\s+rules?\\b)', 'CONTRACT\\.md', 'STYLE\\.md'].join('|'));
/** `rule \`a\``, `rules \`a\`, \`b\` and \`c\`` (possibly across comment lines). */
const RULE_CITATION = /\brules?\s+`[a-z][a-z0-9-]*`(?:(?:[\s,;*/]|--|\band\b|\bor\b|\bto\b)+`[a-z][a-z0-9-]*`)*/g;

export function walk(
  root: string,
  keep: (path: string) => boolean,
  skip = new Set(['node_modules', '.git', 'test-results']),
): string[] {
  return readdirSync(root).flatMap((name) => {
    if (skip.has(name)) return [];
    const path = join(root, name);
    if (statSync(path).isDirectory()) return walk(path, keep, skip);
    return keep(path) ? [path] : [];
  });
}

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to dashes, repeats numbered. */
export function headingSlugs(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const slugs = new Set<string>();
  for (const line of withoutCodeBlocks(markdown).split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    slugs.add(n === 0 ? base : `${base}-${n}`);
  }
  return slugs;
}

function withoutCodeBlocks(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** Link targets of a Markdown text: inline links, images and reference definitions, not code. */
export function linkTargets(markdown: string): string[] {
  const text = withoutCodeBlocks(markdown).replace(/`[^`\n]*`/g, 'code');
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const refs = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]!);
  return [...inline, ...refs];
}

/**
 * What is wrong with the links of `file`: a target outside the repository's reach, a
 * relative path that does not exist, or an anchor that is not a heading of its Markdown file.
 */
export function brokenLinks(file: string, markdown: string, read: (path: string) => string | null): string[] {
  const problems: string[] = [];
  for (const target of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    const [path = '', anchor] = target.split('#', 2);
    const resolved = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
    if (target.includes(OUTSIDE)) {
      problems.push(`${target}: points outside the repository`);
      continue;
    }
    const text = read(resolved);
    if (text === null) {
      problems.push(`${target}: no such file`);
      continue;
    }
    if (anchor && resolved.endsWith('.md') && !headingSlugs(text).has(anchor)) {
      problems.push(`${target}: no heading #${anchor}`);
    }
  }
  return problems;
}

/** Rule names a source text cites (`rule \`name\``), in order of appearance. */
export function citedRules(source: string): string[] {
  return [...source.matchAll(RULE_CITATION)].flatMap((m) =>
    [...m[0].matchAll(/`([a-z][a-z0-9-]*)`/g)].map((n) => n[1]!),
  );
}

/** What is wrong with the citations of one source file, given the rule headings that exist. */
export function badCitations(source: string, rules: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const foreign = FOREIGN_CITATION.exec(source);
  if (foreign)
    problems.push(`cites ${foreign[0]}, which is not in the repository (cite docs/architecture.md or docs/api.md)`);
  if (source.includes(OUTSIDE)) problems.push(`refers to ${OUTSIDE}, which is not in the repository`);
  for (const name of citedRules(source)) {
    if (!rules.has(name)) problems.push(`cites rule \`${name}\`, not a heading of docs/architecture.md`);
  }
  return problems;
}

/** Reads a file (a directory counts as existing, with no text), or null when absent. */
export function readIfExists(path: string): string | null {
  if (!existsSync(path)) return null;
  return statSync(path).isDirectory() ? '' : readFileSync(path, 'utf8');
}

export const rel = (root: string, path: string): string => relative(root, path);
