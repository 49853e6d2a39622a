/* sinks.h: the wiring of the pipeline's hand-offs, done once at start-up: where
 * tracking's slow and finished requests go (the worker, the span exporter), and what
 * the OTLP client tells the exit path. */
#ifndef RT_SINKS_H
#define RT_SINKS_H

void rt_sinks_install(void);

#endif
