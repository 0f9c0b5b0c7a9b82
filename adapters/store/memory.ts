/** The in-memory store; it lives in ./memory/ (one file per part), this is its entry point. */
export * from './memory/index.ts';
