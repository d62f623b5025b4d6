// Package tracing is Warren's OpenTelemetry glue: the tracer provider set up from the
// standard OTEL_* environment variables, the W3C trace context carried through HTTP, AMQP
// headers and history, and the spans that draw one orchestration tree as one trace.
//
// The orchestration span is the unusual one. Its activities and children run on other
// workers, often hours before it ends, yet they must name it as their parent; so its span id
// is chosen when the instance is created ([NewSpanID], kept in the ExecutionStarted event's
// Trace.SpanID), everyone derives its context from that event ([OrchestrationSpanContext]),
// and the worker that sees the execution end exports it once, with its true start time
// ([ExportOrchestration]). The [IDGenerator] is what lets the SDK give a span a chosen id; a
// tracer provider that does not use it exports orchestration spans under random ids, and
// their children then hang off a span that is never seen.
//
// Everything here takes explicit tracers, times and history events; nothing needs a global
// except what [Setup] installs for a binary's convenience.
//
//	tp, shutdown, err := tracing.Setup(ctx, "warren-worker")
//	if err != nil { ... }
//	defer shutdown(context.Background())
//	tracer := tp.Tracer("github.com/warrenhq/warren/worker")
package tracing
