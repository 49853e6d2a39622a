// grpc_demo.js PORT LOG: a gRPC service (grpc-js, plaintext HTTP/2) for the integration
// tests: otshim.Demo's Fast, Slow (300 ms of CPU in grpcSlowBurn) and Fail (INTERNAL).
// Every call is one line in LOG. SIGTERM exits.
'use strict';
const path = require('path');
const fs = require('fs');
const modules = path.join(__dirname, '../tools/node_modules');
const grpc = require(path.join(modules, '@grpc/grpc-js'));
const loader = require(path.join(modules, '@grpc/proto-loader'));

function grpcSlowBurn(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 20000; i++) x += i * i;
  }
  return x;
}

const log = fs.openSync(process.argv[3], 'a');
const def = grpc.loadPackageDefinition(loader.loadSync(path.join(__dirname, 'grpc_demo.proto')));
const server = new grpc.Server();
server.addService(def.otshim.Demo.service, {
  Fast: (call, cb) => { fs.writeSync(log, 'Fast\n'); cb(null, { text: 'ok' }); },
  Slow: (call, cb) => { grpcSlowBurn(300); fs.writeSync(log, 'Slow\n'); cb(null, { text: 'slow' }); },
  Fail: (call, cb) => { fs.writeSync(log, 'Fail\n'); cb({ code: grpc.status.INTERNAL, details: 'boom' }); },
});
server.bindAsync(`127.0.0.1:${process.argv[2]}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) { console.error(err); process.exit(1); }
});
process.on('SIGTERM', () => process.exit(0));
