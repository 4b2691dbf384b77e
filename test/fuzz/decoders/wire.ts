/** Fuzz target: the channel protocol codec, `decodeMessage` / `encodeMessage` (src/core/codec/wire.ts). */
import { decodeMessage, encodeMessage } from '../../../src/core/codec/wire.ts';
import { resultCodecTarget } from './check.ts';
import { wireSamples } from './samples.ts';

export const fuzz = resultCodecTarget(decodeMessage, encodeMessage, () => wireSamples().map(([, m]) => m));
