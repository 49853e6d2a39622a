/* sinks.c: see sinks.h. A slow request is watched, then owned, by the worker (which
 * gives its span to the exporter once its files are written); any other finished
 * request goes to the span exporter directly. */
#include "boot/sinks.h"

#include "boot/init.h"
#include "emit/export.h"
#include "emit/otlp_http.h"
#include "emit/worker.h"
#include "track/sink.h"

static const rt_req_sink_t request_sink = {
	.slow = rt_worker_watch,
	.slow_dropped = rt_worker_unwatch,
	.slow_ended = rt_worker_submit,
	.ended = rt_export_offer,
	.call_ended = rt_export_offer_call,
};

void rt_sinks_install(void)
{
	rt_req_sink_install(&request_sink);
	rt_otlp_http_on_tls_ready(rt_init_flush_before_atexit);
}
