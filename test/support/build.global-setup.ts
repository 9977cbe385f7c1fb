import type { TestProject } from 'vitest/node';
import { buildExampleApp } from './example-process';

declare module 'vitest' {
  export interface ProvidedContext {
    exampleMain: string;
  }
}

/** Compiles the example app once for the tests that run it as separate processes. */
export function setup(project: TestProject): void {
  project.provide('exampleMain', buildExampleApp());
}
