/**
 * `npm run viz`: writes docs/order-machine.md (Mermaid) and docs/order-machine.svg
 * (Graphviz, rendered offline), both from the machine definition.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderSvg, toDot } from './dot.ts';
import { machineGraph } from './graph.ts';
import { toMarkdown } from './mermaid.ts';

const root = new URL('../..', import.meta.url).pathname;
const docs = join(root, 'docs');

const graph = machineGraph();
const markdown = toMarkdown(graph, 'machines/order.machine.ts');
const svg = await renderSvg(toDot(graph));

await mkdir(docs, { recursive: true });
await writeFile(join(docs, 'order-machine.md'), markdown);
await writeFile(join(docs, 'order-machine.svg'), svg);
process.stdout.write(
  `wrote docs/order-machine.md and docs/order-machine.svg: ${graph.states.length} states, ${graph.transitions.length} transitions\n`,
);
