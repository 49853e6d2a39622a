// node_demo.js PORT LOG: a Node.js service for the integration tests (the http module,
// keep-alive). /cpu burns 300 ms of CPU in burnCpu; every answered request is one line
// in LOG.
'use strict';
const http = require('http');
const fs = require('fs');

function burnCpu(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 20000; i++) x += i * i;
  }
  return x;
}

const log = process.argv[3];
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/cpu')) burnCpu(300);
  fs.appendFileSync(log, `${req.method} ${req.url}\n`);
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 3 });
  res.end('ok\n');
});
server.keepAliveTimeout = 30000;
server.listen(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
