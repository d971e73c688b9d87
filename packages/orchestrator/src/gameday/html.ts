import { type GameDayStep, renderGameDayHtml } from '../reports/html-report.js';
import type { Journal } from '../runner/journal.js';
import type { StepResult, SuiteReport } from './report-schema.js';
import { failureMessage } from './score.js';

/**
 * The HTML report of one game day (or gate suite): the summary and steps on top, then each run
 * it made with its probe charts, as `renderGameDayHtml` draws them. `journals` holds at least the
 * journals of the suite's runs, by run id.
 */
export function renderSuiteHtml(report: SuiteReport, journals: ReadonlyMap<string, Journal>): string {
  const runs = report.steps.flatMap((step) => {
    const journal =
      step.type === 'experiment' && step.runId !== undefined ? journals.get(step.runId) : undefined;
    return journal === undefined ? [] : [journal];
  });
  return renderGameDayHtml({
    summary: {
      name: report.name,
      ...(report.description === undefined ? {} : { description: report.description }),
      startedAt: report.startedAt,
      endedAt: report.endedAt,
      score: report.score,
      ...(report.minScore === undefined ? {} : { minScore: report.minScore }),
      passed: report.outcome === 'passed',
      reason: report.reason,
      steps: report.steps.map(htmlStep),
    },
    runs,
  });
}

function htmlStep(step: StepResult): GameDayStep {
  switch (step.type) {
    case 'experiment':
      return {
        name: step.required ? step.name : `${step.name} (not required, weight ${step.weight})`,
        status: step.status,
        ...(step.runId === undefined ? {} : { runId: step.runId }),
        detail: step.status === 'passed' || step.status === 'skipped' ? step.reason : failureMessage(step),
      };
    case 'pause':
      return {
        name: `pause ${step.duration}`,
        status: step.status,
        ...(step.reason === undefined ? {} : { detail: step.reason }),
      };
    case 'approval':
      return {
        name: `approval: ${step.message}`,
        status: step.status,
        ...(step.by === undefined ? {} : { detail: `by ${step.by}` }),
      };
  }
}
