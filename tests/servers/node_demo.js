// node_demo.js PORT LOG: a Node.js service for the integration tests (the http module,
// keep-alive). /cpu burns 300 ms of CPU in burnCpu, /slow 400 ms in slowBurn, /fast
// 40 ms in fastBurn; /upstream?port=N answers once its GET / to 127.0.0.1:N has
// (http.get: the event loop waits meanwhile); every answered request is one line in LOG.
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

// Two more burners with loops of their own (a wrapper around burnCpu would be inlined
// into it), for the event-loop test: which request's samples land in which profile.
function slowBurn(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 20000; i++) x += i * i;
  }
  return x;
}

function fastBurn(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 20000; i++) x += i ^ (i >> 3);
  }
  return x;
}

const log = process.argv[3];

function answer(req, res, status) {
  fs.appendFileSync(log, `${req.method} ${req.url}\n`);
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': 3 });
  res.end('ok\n');
}

function callUpstream(req, res) {
  const port = Number(new URL(req.url, 'http://x').searchParams.get('port'));
  http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (up) => {
    up.resume();
    up.on('end', () => answer(req, res, up.statusCode === 200 ? 200 : 502));
  }).on('error', () => answer(req, res, 502));
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/upstream')) return callUpstream(req, res);
  if (req.url.startsWith('/cpu')) burnCpu(300);
  else if (req.url.startsWith('/slow')) slowBurn(400);
  else if (req.url.startsWith('/fast')) fastBurn(40);
  answer(req, res, 200);
});
server.keepAliveTimeout = 30000;
server.listen(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
