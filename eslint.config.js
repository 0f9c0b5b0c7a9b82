// One lint config for every folder (machines, adapters, src, test, scripts). Formatting is
// Prettier's alone (.prettierrc.json): nothing here judges layout, so the two never disagree.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['node_modules/', 'coverage/', 'test-results/', '.kafka/', '.cache/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      // Flags `let ok = false; try { ok = ... } catch { ... }`, where the first value documents the fallback.
      'no-useless-assignment': 'off',
      eqeqeq: ['error', 'smart'],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // The type-aware rules worth their cost in a codebase made of async handlers: a promise
    // nobody awaits loses its error, and one passed where a callback is expected is never awaited.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test registers describe/it at once; their promises are the runner's to await.
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    // HTTP clients of the contract read JSON bodies whose shape is what the test asserts.
    files: ['test/**', 'src/load/http.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
