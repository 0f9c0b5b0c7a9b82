/** The Redis store; it lives in ./redis/ (one file per part), this is its entry point. */
export * from './redis/index.ts';
