export { loadExperimentFile, parseExperimentSource, validateFiles } from './experiments/load.js';
export { type Experiment, experimentSchema } from './experiments/schema.js';
export { type LoadedGameDay, loadGameDayFile, parseGameDaySource } from './gameday/load.js';
export {
  type GateReport,
  gateReportSchema,
  type SuiteReport,
  suiteReportSchema,
} from './gameday/report-schema.js';
export { type GameDay, gameDaySchema } from './gameday/schema.js';
export {
  type HistoryVerdict,
  type RunDetail,
  type RunEnd,
  type RunFilter,
  type RunHistory,
  type RunRecord,
  type RunSource,
  type RunStart,
  runDetailSchema,
  runRecordSchema,
} from './history/run-history.js';
export { defaultHistoryPath, openRunHistory, SqliteRunHistory } from './history/sqlite-run-history.js';
export { AgentSession } from './hub/agent-session.js';
export { AGENT_PATH, type AgentInfo, Hub, type HubOptions } from './hub/hub.js';
export {
  type GameDayReport,
  type GameDayStep,
  type GameDaySummary,
  renderGameDayHtml,
  renderRunDetailHtml,
  renderRunHtml,
} from './reports/html-report.js';
export { type Journal, journalSchema, type Verdict } from './runner/journal.js';
export { type Plan, type RunEvent, runEventSchema } from './runner/run-events.js';
export { planExperiment, type RunOptions, runExperiment } from './runner/run-experiment.js';
export { OrchestratorServer, type OrchestratorServerOptions } from './server/orchestrator-server.js';
