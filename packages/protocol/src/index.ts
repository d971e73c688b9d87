export * from './decode.js';
export * from './duration.js';
export * from './errors.js';
export * from './faults.js';
export * from './messages.js';
export * from './targets.js';
