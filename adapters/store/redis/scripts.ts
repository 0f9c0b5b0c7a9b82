/**
 * The Lua scripts, each registered once per connection with ioredis `defineCommand`:
 * the first call on a socket sends EVAL (which caches the script), every later one
 * EVALSHA, and a NOSCRIPT after a Redis restart falls back by itself. Each script is
 * `lua/common.lua` followed by its own file (the checked effects: `lua/check.lua`, then
 * the effect's file).
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const names = [
  'reserve',
  'release',
  'charge',
  'refund',
  'reserve_checked',
  'charge_checked',
  'seed',
  'create_order',
  'commit_saga',
  'mark_sent',
  'read_order',
  'claim_due',
  'claim_retention',
  'retain_effect',
] as const;
export type ScriptName = (typeof names)[number];

/** The files of a script after common.lua: its own, or an effect behind the order check. */
const files = (name: ScriptName): string[] =>
  name === 'reserve_checked' ? ['check', 'reserve'] : name === 'charge_checked' ? ['check', 'charge'] : [name];

const read = (file: string): string => readFileSync(new URL(`./lua/${file}.lua`, import.meta.url), 'utf8');
const common = read('common');
const sources: Record<ScriptName, string> = Object.fromEntries(
  names.map((n) => [n, [common, ...files(n).map(read)].join('\n')]),
) as Record<ScriptName, string>;

/** What a script replies: Lua strings, integers, nil and tables, as ioredis hands them over. */
export type Reply = string | number | null | Reply[];

export type Scripts = Record<ScriptName, (keys: readonly string[], args: readonly string[]) => Promise<Reply>>;

type ScriptCommand = (numKeys: number, ...keysAndArgs: string[]) => Promise<Reply>;

export function defineScripts(client: Redis): Scripts {
  for (const name of names) client.defineCommand(`saga_${name}`, { lua: sources[name] });
  const commands = client as unknown as Record<string, ScriptCommand>;
  return Object.fromEntries(
    names.map((name) => {
      const command = `saga_${name}`;
      return [
        name,
        (keys: readonly string[], args: readonly string[]) =>
          commands[command]!.call(client, keys.length, ...keys, ...args),
      ];
    }),
  ) as Scripts;
}
