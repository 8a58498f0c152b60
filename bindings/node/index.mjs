// ESM entry: the native addon is loaded once, by the generated CommonJS
// loader behind index.js, and re-exported with named exports.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const native = require('./index.js');

export const { mulaw, alaw, Resampler, Framer, Vad, EchoCanceller, TwilioBridge, Call, Pipeline, RequestValidator, Gate, isa } = native;
export default native;
