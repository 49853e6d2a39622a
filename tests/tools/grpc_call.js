// grpc_call.js PORT TRACEPARENT METHOD:N...: calls otshim.Demo/METHOD N times for each
// argument in turn, one call after another on one channel (one HTTP/2 connection), the
// last call of each group with TRACEPARENT in its metadata ("-": none). Prints one line
// "METHOD ok K failed F" per group (F: calls answered with a non-OK status).
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [port, tp, ...groups] = process.argv.slice(2);
const def = grpc.loadPackageDefinition(
  loader.loadSync(path.join(__dirname, '../servers/grpc_demo.proto')));
const client = new def.otshim.Demo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());

function call(method, md) {
  return new Promise((resolve) => client[method]({ text: 'hi' }, md, (err) => resolve(!err)));
}

(async () => {
  for (const g of groups) {
    const [method, n] = g.split(':');
    let ok = 0, failed = 0;
    for (let i = 0; i < Number(n); i++) {
      const md = new grpc.Metadata();
      if (tp !== '-' && i === Number(n) - 1) md.set('traceparent', tp);
      if (await call(method, md)) ok++; else failed++;
    }
    console.log(`${method} ok ${ok} failed ${failed}`);
  }
  client.close();
})();
