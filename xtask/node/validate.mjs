// Times @asyncapi/parser (the reference validator) on each document given on the command line.
// Used only by `cargo xtask bench validate`; the product never needs Node.
//
// `fromFile(parser, path).validate()` reads the file and validates it with `source` set, so
// relative `$ref`s resolve against the document's folder, as in asyncforge.
//
// Environment: RUNS (timed runs per document, default 3), WARMUP=1 (validate the first document
// once, untimed, before timing anything: pays for lazy initialisation and JIT warm-up once).
// Output: one JSON line per document:
//   {"path", "valid", "errors", "error", "runs_ms": [..], "median_ms", "best_ms"}
import { Parser, fromFile } from '@asyncapi/parser';

const parser = new Parser();
const runs = Math.max(1, Number(process.env.RUNS || 3));
const paths = process.argv.slice(2);

async function validateOnce(path) {
  try {
    const diagnostics = await fromFile(parser, path).validate();
    const errors = diagnostics.filter((d) => d.severity === 0).length;
    return { valid: errors === 0, errors, error: null };
  } catch (e) {
    return { valid: null, errors: null, error: String(e && e.message ? e.message : e).slice(0, 200) };
  }
}

if (process.env.WARMUP === '1' && paths.length > 0) {
  await validateOnce(paths[0]);
}

for (const path of paths) {
  const times = [];
  let result = null;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    result = await validateOnce(path);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      path,
      ...result,
      runs_ms: times,
      median_ms: sorted[Math.floor(sorted.length / 2)],
      best_ms: sorted[0],
    }),
  );
}
