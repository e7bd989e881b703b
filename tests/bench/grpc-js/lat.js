// Enqueue-to-start latency from @grpc/grpc-js, a client cueball did not write:
// open loop, exponential gaps with a fixed seed; the runs' started_at read back
// with Wait. A bench tool outside the product:
//   cd tests/bench/grpc-js && npm ci && node lat.js 127.0.0.1:7420 20 120 ../../../proto
const grpc = require("@grpc/grpc-js");
const loader = require("@grpc/proto-loader");
const { performance } = require("node:perf_hooks");
const [,, server, rateS, secsS, protoDir] = process.argv;
const rate = parseFloat(rateS), secs = parseFloat(secsS);
const def = loader.loadSync("cueball/v1/workflows.proto", { includeDirs: [protoDir], keepCase: true, longs: Number, defaults: true });
const v1 = grpc.loadPackageDefinition(def).cueball.v1;
const c = new v1.Workflows(server, grpc.credentials.createInsecure());
let seed = 20261206; const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const at = []; for (let t = 0;;) { t += -Math.log(1 - rnd()) / rate; if (t > secs && at.length) break; at.push(t); }
const pct = (v, p) => { const s = [...v].sort((a, b) => a - b); return s[Math.max(1, Math.min(s.length, Math.ceil(p * s.length))) - 1]; };
c.ListWorkflowTypes({}, async (e) => {
  if (e) throw e;
  const n = at.length, sent = new Array(n), rpc = new Array(n), ids = new Array(n);
  let done = 0; const t0 = performance.now(); const w0 = Date.now();
  await new Promise((resolve) => {
    at.forEach((t, i) => setTimeout(() => {
      const a = performance.now(); sent[i] = w0 + (a - t0);
      c.Enqueue({ workflow_type: "noop" }, (err, r) => {
        if (err) throw err;
        rpc[i] = performance.now() - a; ids[i] = r.run.id; if (++done === n) resolve();
      });
    }, t * 1000));
  });
  const start = [];
  for (let k = 0; k < n; k += 500) {
    const chunk = ids.slice(k, k + 500);
    const r = await new Promise((res, rej) => c.Wait({ ids: chunk, timeout: { seconds: 60 } }, (e2, x) => e2 ? rej(e2) : res(x)));
    r.runs.forEach((run, j) => start.push(run.started_at.seconds * 1000 + run.started_at.nanos / 1e6 - sent[k + j]));
  }
  console.log(`grpc-js ${require("@grpc/grpc-js/package.json").version} calls ${n}`);
  for (const [name, v] of [["enqueue_rpc", rpc], ["start", start]])
    console.log(`${name.padEnd(12)} p50 ${pct(v, .5).toFixed(2)} ms  p99 ${pct(v, .99).toFixed(2)} ms  max ${Math.max(...v).toFixed(2)} ms`);
  process.exit(0);
});
