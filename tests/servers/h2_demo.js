// h2_demo.js PORT LOG: a Node.js HTTP/2 service without TLS (h2c, prior knowledge) for
// the integration tests. /slow burns 300 ms of CPU in h2SlowBurn; anything else answers
// at once. Every answered stream is one line in LOG. SIGTERM exits.
'use strict';
const http2 = require('http2');
const fs = require('fs');

function h2SlowBurn(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 20000; i++) x += i * i;
  }
  return x;
}

const log = fs.openSync(process.argv[3], 'a');
const server = http2.createServer();
server.on('stream', (stream, headers) => {
  const path = headers[':path'];
  if (path.startsWith('/slow')) h2SlowBurn(300);
  fs.writeSync(log, `${headers[':method']} ${path}\n`);
  stream.respond({ ':status': path.startsWith('/missing') ? 404 : 200, 'content-type': 'text/plain' });
  stream.end('ok\n');
});
server.on('sessionError', () => {});
server.listen(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
