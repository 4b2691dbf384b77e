/** Fuzz target: the settlement protocol codec, `decodeSettleMessage` / `encodeSettleMessage` (src/core/codec/settle.ts). */
import { decodeSettleMessage, encodeSettleMessage } from '../../../src/core/codec/settle.ts';
import { resultCodecTarget } from './check.ts';
import { settleSamples } from './samples.ts';

export const fuzz = resultCodecTarget(decodeSettleMessage, encodeSettleMessage, () => settleSamples().map(([, m]) => m));
