/**
 * The machine graph as Graphviz DOT, and its SVG rendered offline by a WASM build of
 * Graphviz (@viz-js/viz ships the WASM inside the package: no download, no network).
 * Ids in the SVG are stable so the live page can find them: `state-<NAME>` on each state,
 * `t:<from>:<event>:<guard>:<to>` on each arrow.
 */
import { labelOf, type GraphTransition, type MachineGraph } from './graph.ts';

export const INITIAL_NODE = '__initial';

const q = (s: string): string => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;

export const stateId = (state: string): string => `state-${state}`;
export const transitionId = (t: GraphTransition): string => `t:${t.from}:${t.event}:${t.guard ?? ''}:${t.to}`;

export function toDot(g: MachineGraph): string {
  const finals = new Set(g.finals);
  const lines = [
    'digraph order {',
    '  rankdir=TB; nodesep=0.5; ranksep=0.55; bgcolor="transparent";',
    '  node [shape=box, style="rounded,filled", fillcolor="#f4f6fb", color="#5b6b8c", fontname="Helvetica", fontsize=13, width=1.7, height=0.75];',
    '  edge [color="#7a869e", fontname="Helvetica", fontsize=10, fontcolor="#36415a", arrowsize=0.7];',
    `  ${q(INITIAL_NODE)} [shape=point, width=0.18, height=0.18, fillcolor="#36415a", label="", id=${q('initial')}];`,
  ];
  for (const s of g.states) {
    const final = finals.has(s);
    const extra = final ? ', peripheries=2, fillcolor="#eef6ee"' : '';
    lines.push(`  ${q(s)} [id=${q(stateId(s))}, class=${q(final ? 'state final' : 'state')}${extra}];`);
  }
  lines.push(`  ${q(INITIAL_NODE)} -> ${q(g.initial)};`);
  for (const t of g.transitions) {
    const style = t.event === 'always' ? ', style=dashed' : '';
    lines.push(
      `  ${q(t.from)} -> ${q(t.to)} [id=${q(transitionId(t))}, class="transition", label=${q(` ${labelOf(t)} `)}${style}];`,
    );
  }
  lines.push('}');
  return lines.join('\n');
}

type Viz = Awaited<ReturnType<typeof import('@viz-js/viz').instance>>;
let viz: Promise<Viz> | undefined;

/** Renders DOT to a standalone SVG document. The WASM module loads once, on first use. */
export async function renderSvg(dot: string): Promise<string> {
  viz ??= import('@viz-js/viz').then((m) => m.instance());
  return (await viz).renderString(dot, { format: 'svg', engine: 'dot' });
}

/** The `<svg>` element alone, without the XML prolog and doctype, for inlining in HTML. */
export const inlineSvg = (svg: string): string => svg.slice(svg.indexOf('<svg'));
