/** The Kafka broker; it lives in ./kafka/ (one file per part), this is its entry point. */
export * from './kafka/index.ts';
