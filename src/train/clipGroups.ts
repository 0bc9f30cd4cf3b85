// Which parameters share one gradient-norm clip (docs/algorithm.md §5.1).
//  - 'published' (default): as the published pretraining step clips, in its order: Cross-CPC; every
//    encoder (semantic and specific, all modalities) as one group; the text front; each CLUB net;
//    every decoder as one group. A norm spike in one encoder therefore also shrinks the others' step.
//  - 'per-submodel': each sub-model of the main optimizer on its own (semantic.audio, decoder.video, ...);
//    the CLUB nets are not measured.
// The published step clips each CLUB net's accumulated gradient (its last inner-loop step plus the
// main loss) but never applies it: the CLUB nets take their steps in the inner loop only. Those
// groups are therefore measured (their pre-clip norm is reported) and not applied.
import type { UniCodeModel } from '../model/uniCode.js';

export const CLIP_GROUPINGS = ['published', 'per-submodel'] as const;
export type ClipGrouping = (typeof CLIP_GROUPINGS)[number];

export interface ClipGroup {
  /** 'cpc', 'encoders', 'front.text', 'club.<modality>', 'decoders' (published) or a sub-model name. */
  name: string;
  /** Logical parameter names, in the model's creation order. */
  params: string[];
  /** False for the CLUB nets: their clipped gradient is measured, not applied. */
  applied: boolean;
}

/** The clipping groups of `model` under `grouping`, in clipping order; empty groups are left out. */
export function clipGroupsOf(model: UniCodeModel, grouping: ClipGrouping): ClipGroup[] {
  const { params } = model;
  const namesOf = (groups: string[]) => groups.flatMap((g) => params.namesIn(g));
  if (grouping === 'per-submodel') {
    return model.mainGroups().map((g) => ({ name: g, params: params.namesIn(g), applied: true }));
  }
  const main = model.mainGroups();
  const matching = (test: (g: string) => boolean) => namesOf(main.filter(test));
  const groups: ClipGroup[] = [
    { name: 'cpc', params: matching((g) => g === 'cpc'), applied: true },
    {
      name: 'encoders',
      params: matching((g) => g.startsWith('semantic.') || g.startsWith('specific.')),
      applied: true,
    },
    { name: 'front.text', params: matching((g) => g === 'front.text'), applied: true },
    ...(model.config.useClub
      ? model.modalities.map((m) => ({ name: `club.${m}`, params: params.namesIn(`club.${m}`), applied: false }))
      : []),
    { name: 'decoders', params: matching((g) => g.startsWith('decoder.')), applied: true },
  ].filter((g) => g.params.length > 0);
  // A sub-model added later must be placed in a group, not trained unclipped.
  const covered = new Set(groups.flatMap((g) => g.params));
  const missing = namesOf(main).filter((n) => !covered.has(n));
  if (missing.length > 0) {
    throw new Error(`clipGroupsOf: parameters in no published clipping group: ${missing.join(', ')}`);
  }
  return groups;
}
