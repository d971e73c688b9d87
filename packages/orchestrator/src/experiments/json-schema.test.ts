import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EXPERIMENT_SCHEMA_ID, experimentJsonSchema, renderExperimentJsonSchema } from './json-schema.js';

const committed = join(import.meta.dirname, '..', '..', '..', '..', 'schemas', 'experiment.schema.json');

describe('experimentJsonSchema', () => {
  test('describes a strict object with apiVersion, kind, metadata and spec', () => {
    const schema = experimentJsonSchema();
    expect(schema).toMatchObject({
      $id: EXPERIMENT_SCHEMA_ID,
      type: 'object',
      additionalProperties: false,
      required: ['apiVersion', 'kind', 'metadata', 'spec'],
      properties: { spec: { type: 'object', additionalProperties: false } },
    });
  });

  test('fields with defaults are optional, durations and modes carry patterns', () => {
    const target = (
      experimentJsonSchema() as { properties: { spec: { properties: Record<string, unknown> } } }
    ).properties.spec.properties.target;
    expect(target).toMatchObject({
      required: ['driver', 'selector'],
      properties: {
        driver: { enum: ['process', 'docker'] },
        mode: { default: 'one', pattern: expect.any(String) },
      },
    });
    const duration = (
      experimentJsonSchema() as { properties: { spec: { properties: { duration: unknown } } } }
    ).properties.spec.properties.duration;
    expect(duration).toMatchObject({ type: 'string', default: '30s', pattern: '^\\d+(\\.\\d+)?(ms|s|m|h)$' });
  });

  // Regenerate with: npx vitest run packages/orchestrator/src/experiments/json-schema.test.ts --update
  test('the committed schemas/experiment.schema.json is up to date', async () => {
    await expect(renderExperimentJsonSchema()).toMatchFileSnapshot(committed);
    expect(JSON.parse(await readFile(committed, 'utf8'))).toEqual(experimentJsonSchema());
  });
});
