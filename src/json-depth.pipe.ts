import { type ArgumentMetadata, BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';

/** Nesting allowed in a request body by default: far more than any DTO here needs. */
export const DEFAULT_MAX_BODY_DEPTH = 32;

/**
 * Refuses a request body nested deeper than `maxDepth` objects or arrays with a 400, before the
 * ValidationPipe sees it: class-transformer walks a body recursively, and a 6 KB body nested 3,000
 * levels deep overflowed the stack (a 500, and a stack trace logged per request). The check is a
 * loop with its own stack, so no body can overflow it. List it before the ValidationPipe:
 * `app.useGlobalPipes(new JsonDepthPipe(), new ValidationPipe(...))`.
 */
@Injectable()
export class JsonDepthPipe implements PipeTransform {
  constructor(private readonly maxDepth = DEFAULT_MAX_BODY_DEPTH) {}

  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type === 'body' && nestedDeeperThan(value, this.maxDepth)) {
      throw new BadRequestException(`The request body is nested more than ${this.maxDepth} levels deep`);
    }
    return value;
  }
}

function nestedDeeperThan(value: unknown, maxDepth: number): boolean {
  const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.depth > maxDepth) return true;
    for (const child of Object.values(next.value)) pending.push({ value: child, depth: next.depth + 1 });
  }
  return false;
}
