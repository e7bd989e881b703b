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
  // Wall time in fractional ms: performance.now() plus an offset taken at
  // the instant Date.now() ticks to the next whole ms (Date.now() alone is
  // whole ms, read up to 1 ms late; performance.timeOrigin was seen 1-2 ms
  // off the system clock the database reads).
  let d0 = Date.now(), d = d0, p = 0;
  while (d === d0) { p = performance.now(); d = Date.now(); }
  const offset = d - p;
  let done = 0;
  await new Promise((resolve) => {
    at.forEach((t, i) => setTimeout(() => {
      const a = performance.now(); sent[i] = offset + a;
      c.Enqueue({ workflow_type: "noop" }, (err, r) => {
        if (err) throw err;
        rpc[i] = performance.now() - a; ids[i] = r.run.id; if (++done === n) resolve();
      });
    }, t * 1000));
  });
  // Split at the run's created_at (the enqueue statement's start, by the
  // database's clock, which is this machine's): before it the client, gRPC
  // and the daemon's handler; after it the insert, its commit, the
  // notification and the claim.
  const start = [], toInsert = [], insertToStart = [];
  const ms = (ts) => ts.seconds * 1000 + ts.nanos / 1e6;
  for (let k = 0; k < n; k += 500) {
    const chunk = ids.slice(k, k + 500);
    const r = await new Promise((res, rej) => c.Wait({ ids: chunk, timeout: { seconds: 60 } }, (e2, x) => e2 ? rej(e2) : res(x)));
    const byId = new Map(r.runs.map((run) => [run.id, run]));
    chunk.forEach((id, j) => {
      const run = byId.get(id);
      start.push(ms(run.started_at) - sent[k + j]);
      toInsert.push(ms(run.created_at) - sent[k + j]);
      insertToStart.push(ms(run.started_at) - ms(run.created_at));
    });
  }
  console.log(`grpc-js ${require("@grpc/grpc-js/package.json").version} calls ${n}`);
  for (const [name, v] of [["enqueue_rpc", rpc], ["start", start], ["  send_to_insert", toInsert], ["  insert_to_start", insertToStart]])
    console.log(`${name.padEnd(18)} p50 ${pct(v, .5).toFixed(2)} ms  p99 ${pct(v, .99).toFixed(2)} ms  max ${Math.max(...v).toFixed(2)} ms`);
  process.exit(0);
});
