import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { createMachine } from 'xstate';
import { orderMachine } from '../../machines/order.machine.ts';
import { renderSvg, toDot } from '../../src/viz/dot.ts';
import { machineGraph } from '../../src/viz/graph.ts';
import { toMarkdown } from '../../src/viz/mermaid.ts';

const docs = new URL('../../docs/', import.meta.url);
const sorted = (xs: Iterable<string>) => [...xs].sort();

/**
 * The machine's states and transitions, computed here from the raw config (not from
 * src/viz), as `FROM --> TO : EVENT [guard]` lines; a targetless transition is a self-loop.
 */
function expected() {
  const states = Object.keys(orderMachine.root.states);
  const finals = Object.entries(orderMachine.root.states)
    .filter(([, n]) => n.config.type === 'final')
    .map(([k]) => k);
  const lines: string[] = [];
  const add = (from: string, event: string, t: unknown) => {
    for (const one of Array.isArray(t) ? t : [t]) {
      const target = typeof one === 'string' ? one : (one as { target?: string }).target;
      const g = typeof one === 'object' ? (one as { guard?: string | { type: string } }).guard : undefined;
      const guard = typeof g === 'string' ? g : g?.type;
      lines.push(`${from} --> ${target ?? from} : ${event}${guard ? ` [${guard}]` : ''}`);
    }
  };
  for (const [from, node] of Object.entries(orderMachine.root.states)) {
    for (const [event, t] of Object.entries(node.config.on ?? {})) add(from, event, t);
    if (node.config.always) add(from, 'always', node.config.always);
  }
  return { states, finals, lines: sorted(lines) };
}

const unescape = (s: string) =>
  s
    .replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)))
    .replace(/&gt;/g, '>')
    .replace(/&lt;/g, '<')
    .replace(/&amp;/g, '&');

function parseSvg(svg: string) {
  const nodes = [...svg.matchAll(/<g id="[^"]*" class="node[^"]*">\s*<title>([^<]*)<\/title>/g)].map((m) =>
    unescape(m[1]!),
  );
  const finals = [...svg.matchAll(/<g id="[^"]*" class="node state final">\s*<title>([^<]*)<\/title>/g)].map(
    (m) => m[1]!,
  );
  const edges = [...svg.matchAll(/<g id="([^"]*)" class="edge[^"]*">([\s\S]*?)<\/g>/g)].map((m) => {
    const title = unescape(/<title>([^<]*)<\/title>/.exec(m[2]!)![1]!);
    const label = unescape(/<text[^>]*>([^<]*)<\/text>/.exec(m[2]!)?.[1] ?? '').trim();
    const [from, to] = title.split('->');
    return { id: unescape(m[1]!), from: from!, to: to!, label };
  });
  return { nodes, finals, edges };
}

describe('the machine diagram', () => {
  const want = expected();

  it('walks every state and transition of the order machine', () => {
    const g = machineGraph();
    assert.deepEqual(sorted(g.states), sorted(want.states));
    assert.deepEqual(sorted(g.finals), sorted(want.finals));
    assert.equal(g.initial, orderMachine.config.initial);
    const lines = g.transitions.map((t) => `${t.from} --> ${t.to} : ${t.event}${t.guard ? ` [${t.guard}]` : ''}`);
    assert.deepEqual(sorted(lines), want.lines);
  });

  it('docs/order-machine.md has every state and transition in Mermaid, and nothing else', async () => {
    const md = await readFile(new URL('order-machine.md', docs), 'utf8');
    assert.equal(md, toMarkdown(machineGraph(), 'machines/order.machine.ts'), 'docs are stale: run npm run viz');
    const mermaid = /```mermaid\n([\s\S]*?)```/
      .exec(md)![1]!
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    assert.equal(mermaid[0], 'stateDiagram-v2');
    const arrows = mermaid.filter((l) => l.includes('-->'));
    assert.deepEqual(sorted(arrows.filter((l) => !l.includes('[*]'))), want.lines);
    assert.deepEqual(
      arrows.filter((l) => l.startsWith('[*]')),
      [`[*] --> ${orderMachine.config.initial}`],
    );
    assert.deepEqual(
      sorted(arrows.filter((l) => l.endsWith('--> [*]'))),
      sorted(want.finals.map((f) => `${f} --> [*]`)),
    );
    assert.deepEqual(sorted(mermaid.slice(1).filter((l) => !l.includes('-->'))), sorted(want.states));
    for (const event of new Set(want.lines.map((l) => l.split(' : ')[1]!.split(' ')[0]!))) {
      assert.match(md, new RegExp(`^- \`${event}\``, 'm'), `legend explains ${event}`);
    }
  });

  for (const [name, load] of [
    ['docs/order-machine.svg', () => readFile(new URL('order-machine.svg', docs), 'utf8')],
    ['the SVG rendered now', () => renderSvg(toDot(machineGraph()))],
  ] as const) {
    it(`${name} has a node per state and an arrow per transition, and nothing else`, async () => {
      const { nodes, finals, edges } = parseSvg(await load());
      assert.deepEqual(
        sorted(nodes),
        sorted([...want.states, '__initial']),
        'one node per state, plus the initial marker',
      );
      assert.deepEqual(sorted(finals), sorted(want.finals));
      const initial = edges.filter((e) => e.from === '__initial');
      assert.deepEqual(
        initial.map((e) => e.to),
        [orderMachine.config.initial],
      );
      const lines = edges.filter((e) => e.from !== '__initial').map((e) => `${e.from} --> ${e.to} : ${e.label}`);
      assert.deepEqual(sorted(lines), want.lines);
      for (const e of edges.filter((x) => x.from !== '__initial'))
        assert.match(e.id, new RegExp(`^t:${e.from}:.*:${e.to}$`));
    });
  }

  it('reads targetless, guarded and eventless transitions of any flat machine', () => {
    const m = createMachine({
      id: 'tiny',
      initial: 'a',
      states: {
        a: { on: { GO: [{ target: 'b', guard: 'ready' }, { target: 'c' }], POKE: {} } },
        b: { always: { target: 'c', guard: { type: 'done' } } },
        c: { type: 'final' },
      },
    });
    assert.deepEqual(machineGraph(m), {
      states: ['a', 'b', 'c'],
      initial: 'a',
      finals: ['c'],
      transitions: [
        { from: 'a', to: 'b', event: 'GO', guard: 'ready' },
        { from: 'a', to: 'c', event: 'GO' },
        { from: 'a', to: 'a', event: 'POKE' },
        { from: 'b', to: 'c', event: 'always', guard: 'done' },
      ],
    });
  });
});
