// Times @asyncapi/parser (the reference validator) on each document given on the command
// line: one in-process parse per document after a warm-up, printed as JSON lines.
// Used only by `cargo xtask bench validate`; the product never needs Node.
import { Parser, fromFile } from '@asyncapi/parser';

const parser = new Parser();
const runs = Number(process.env.RUNS || 3);
for (const path of process.argv.slice(2)) {
  const times = [];
  let valid = null;
  let error = null;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    try {
      const { document, diagnostics } = await fromFile(parser, path).parse();
      valid = document !== undefined && !diagnostics.some((d) => d.severity === 0);
    } catch (e) {
      error = String(e && e.message ? e.message : e).slice(0, 200);
    }
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ path, valid, error, median_ms: times[Math.floor(times.length / 2)] }));
}
