/* writer.h: a slow request's profile set: cpu-, heap-, threads- and
 * threadcreate-<trace>-<span>-<unix>.pb.gz and its index.jsonl line, within the rate
 * limit and the disk cap. The worker gathers what the set is made of (samples, a heap
 * snapshot, a capture of every thread) and hands it here; building each profile is
 * profile/, naming file_names.c, the directory profile_dir.c; each file goes out
 * through profile_export.c (its file, and the exporters when they are on).
 * Context: the worker thread. */
#ifndef RT_WRITER_H
#define RT_WRITER_H

#include "emit/samples.h"
#include "sample/heap_sampler.h"
#include "sample/thread_capture.h"
#include "track/request.h"

/* What the worker gathered for one slow request as it ended. */
typedef struct rt_request_evidence {
	const rt_samples_t *cpu;        /* its thread's CPU samples */
	const char *thread_name;        /* that thread's name, "" when unknown */
	int heap_wanted;                /* heap sampling is on */
	const rt_heap_snapshot_t *heap; /* every sampled live block; NULL: none was taken */
	int threads_wanted;             /* the thread capture is on */
	rt_thread_capture_t *threads;   /* every thread's stack; NULL: the capture failed */
} rt_request_evidence_t;

/* May a slow request's set be written now: within this minute's rate, with
 * descriptors to spare, the directory there and under the disk cap? A refusal is
 * counted as a dropped profile set, by reason. 1, or 0. */
int rt_writer_admit(void);

/* Writes the set of an admitted request (dropped, and counted, when descriptors ran
 * short meanwhile). When out is not NULL it gets the names of the files written (all
 * "" when none was), for the request's span. */
void rt_writer_slow_request(const rt_req_t *r, const rt_request_evidence_t *ev,
			    rt_req_files_t *out);

#endif
