/* sink.c: the installed sink (see sink.h) and its stand-in before boot installs it. */
#include "track/sink.h"

static void ignore_serial(uint64_t serial) { (void)serial; }
static void ignore_req(struct rt_req *r) { (void)r; }
static int refuse_req(struct rt_req *r) { (void)r; return 0; }
static int refuse_call(const struct rt_call *c) { (void)c; return 0; }

static const rt_req_sink_t nowhere = { ignore_serial, ignore_serial, ignore_req, refuse_req,
				       refuse_call };

const rt_req_sink_t *rt_req_sink = &nowhere;
_Atomic int rt_sink_spans_on;

void rt_req_sink_install(const rt_req_sink_t *s)
{
	rt_req_sink = s ? s : &nowhere;
}
