#!/usr/bin/env node
// node_hop.js PORT_FILE: a Node service in the middle of a chain, for outbound.sh.
// GET /hop?next=URL&via=request|fetch calls URL (http.request, or the global fetch)
// and answers 200 with the status it got; anything else answers "ok".
"use strict";
const fs = require("fs");
const http = require("http");

function call(next, via, done) {
	if (via === "fetch") {
		fetch(next).then(async (r) => { await r.text(); done(r.status); }, () => done(599));
		return;
	}
	const req = http.request(next, (r) => {
		r.resume();
		r.on("end", () => done(r.statusCode));
	});
	req.on("error", () => done(599));
	req.end();
}

const server = http.createServer((req, res) => {
	const u = new URL(req.url, "http://x");
	const answer = (status) => {
		const body = `hop ${status}\n`;
		res.writeHead(200, { "Content-Length": Buffer.byteLength(body) });
		res.end(body);
	};
	if (u.pathname === "/hop" && u.searchParams.get("next"))
		call(u.searchParams.get("next"), u.searchParams.get("via") || "request", answer);
	else
		answer(0);
});
server.keepAliveTimeout = 1000;
server.listen(0, "127.0.0.1", () => {
	fs.writeFileSync(process.argv[2] + ".tmp", `${server.address().port}\n`);
	fs.renameSync(process.argv[2] + ".tmp", process.argv[2]);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
