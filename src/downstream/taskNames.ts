// The names of the downstream tasks: the one vocabulary used by the task functions, the heads,
// the reports and the command line. Kept free of tfjs so that the command-line specs can load it.
import { InvalidInputError } from '../data/errors.js';

/** Tasks run on one labelled dataset, for every ordered modality pair (what `eval --tasks` takes). */
export const CROSS_MODAL_TASKS = ['classify', 'localize', 'retrieve'] as const;
export type CrossModalTask = (typeof CROSS_MODAL_TASKS)[number];
export const DOWNSTREAM_TASKS = [...CROSS_MODAL_TASKS, 'transfer'] as const;
export type DownstreamTask = (typeof DOWNSTREAM_TASKS)[number];
/** The tasks that train a head on frozen codes (cross-dataset transfer trains one of these too). */
export type HeadTask = Extract<DownstreamTask, 'classify' | 'localize'>;

/** How reports and tables title each task. */
export const TASK_TITLES: Record<DownstreamTask, string> = {
  classify: 'classification',
  localize: 'localization',
  retrieve: 'retrieval',
  transfer: 'transfer',
};

/** Checks a task name from the command line or a config. */
export function parseDownstreamTask(name: string): DownstreamTask {
  if (!(DOWNSTREAM_TASKS as readonly string[]).includes(name)) {
    throw new InvalidInputError(`unknown downstream task '${name}' (known: ${DOWNSTREAM_TASKS.join(', ')})`);
  }
  return name as DownstreamTask;
}
