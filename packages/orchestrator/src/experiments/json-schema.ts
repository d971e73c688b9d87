import { durationSchema } from '@simian/protocol';
import { z } from 'zod';
import { modeSchema } from './mode.js';
import { API_VERSION, experimentSchema } from './schema.js';

/** Where editors find the schema; also its `$id`. */
export const EXPERIMENT_SCHEMA_ID = 'https://simian.dev/schemas/experiment.schema.json';

// Refinements do not survive the conversion; these patterns give editors the same shape back.
const DURATION_PATTERN = '^\\d+(\\.\\d+)?(ms|s|m|h)$';
const MODE_PATTERN = '^(one|all|count:\\d+|percent:\\d+(\\.\\d+)?)$';

/**
 * The JSON Schema of an experiment file as users write it (defaults make fields optional), for
 * editors such as the YAML language server. Generated from the zod schema, so it never drifts;
 * the committed copy is `schemas/experiment.schema.json`.
 */
export function experimentJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(experimentSchema, {
    io: 'input',
    // Draft 7 is what most editors' YAML support understands.
    target: 'draft-07',
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema === durationSchema) {
        jsonSchema.pattern = DURATION_PATTERN;
        jsonSchema.description = 'A duration such as 500ms, 30s, 5m or 1h.';
      } else if (zodSchema === modeSchema) {
        jsonSchema.pattern = MODE_PATTERN;
        jsonSchema.description = 'How many matching targets to hit: one | all | count:N | percent:P.';
      }
    },
  });
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: EXPERIMENT_SCHEMA_ID,
    title: 'simian Experiment',
    description: `A chaos experiment (apiVersion ${API_VERSION}, kind Experiment).`,
    ...rest,
  };
}

/** The schema as committed to `schemas/experiment.schema.json`: two-space JSON and a final newline. */
export function renderExperimentJsonSchema(): string {
  return `${JSON.stringify(experimentJsonSchema(), null, 2)}\n`;
}
