// grpc_call.js PORT METHOD N [TRACEPARENT]: calls otshim.Demo/METHOD N times, one after
// another on one channel (one HTTP/2 connection), with a traceparent in the metadata
// when given. Prints "ok K failed F" (F: calls answered with a non-OK status).
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [port, method, n, tp] = process.argv.slice(2);
const def = grpc.loadPackageDefinition(
  loader.loadSync(path.join(__dirname, '../servers/grpc_demo.proto')));
const client = new def.otshim.Demo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
let ok = 0, failed = 0;
function one(i) {
  if (i === Number(n)) {
    console.log(`ok ${ok} failed ${failed}`);
    client.close();
    return;
  }
  const md = new grpc.Metadata();
  if (tp) md.set('traceparent', tp);
  client[method]({ text: 'hi' }, md, (err) => {
    if (err) failed++; else ok++;
    one(i + 1);
  });
}
one(0);
