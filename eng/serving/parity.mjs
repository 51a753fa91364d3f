// Scores every serving bundle's model.onnx with onnxruntime-node and compares with what ONNX Runtime for .NET computed for
// the same rows (OUT/samples/<model>.json, written by DeepArch.ServingCheck): every output, same shape, max abs error 1e-5.
// Usage: node parity.mjs OUT   (with onnxruntime-node resolvable, NODE_PATH set by run.sh)
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const out = process.argv[2];
const tolerance = 1e-5;
let failures = 0;
for (const file of fs.readdirSync(path.join(out, 'samples')).sort()) {
  const name = path.basename(file, '.json');
  const sample = JSON.parse(fs.readFileSync(path.join(out, 'samples', file), 'utf8'));
  const session = await ort.InferenceSession.create(path.join(out, name, '1', 'model.onnx'));
  const feeds = {};
  for (const [input, value] of Object.entries(sample.inputs)) {
    feeds[input] = new ort.Tensor('float32', Float32Array.from(value.data), value.dims);
  }
  const results = await session.run(feeds);
  let worst = 0;
  for (const [output, expected] of Object.entries(sample.outputs)) {
    const actual = results[output];
    if (!actual || actual.dims.join(',') !== expected.dims.join(',')) {
      console.log(JSON.stringify({ model: name, output, error: `shape ${actual ? actual.dims : 'missing'} vs ${expected.dims}` }));
      failures++;
      continue;
    }
    const data = Array.from(actual.data, Number);
    for (let i = 0; i < data.length; i++) {
      const a = data[i], e = expected.data[i];
      // NaN (a detector's score for a non-finite row) must be NaN in both.
      const diff = Number.isNaN(a) || Number.isNaN(e) ? (Number.isNaN(a) && Number.isNaN(e) ? 0 : Infinity) : Math.abs(a - e);
      worst = Math.max(worst, diff);
    }
  }
  const ok = worst <= tolerance;
  if (!ok) failures++;
  console.log(JSON.stringify({ model: name, outputs: Object.keys(sample.outputs).length, max_abs_error: worst, ok }));
}
console.log(JSON.stringify({ runtime: `onnxruntime-node ${ort.env.versions.node}`, failures }));
process.exit(failures === 0 ? 0 : 1);
