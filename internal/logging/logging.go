// Package logging builds the binaries' loggers (WARREN_LOG_FORMAT, WARREN_LOG_LEVEL) and
// names the attributes that join a log line to an instance and its trace: every line about
// an instance carries instance_id, and trace_id and span_id when the instance has a trace,
// so that a line found in the logs leads to the trace in Jaeger and back.
//
//	log, err := logging.New(os.Stderr, "json", "info")
//	log.Warn("episode commit failed", logging.Instance(id, sc, "err", err)...)
package logging

import (
	"fmt"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// The attribute keys of the instance and its trace.
const (
	InstanceIDKey = "instance_id"
	TraceIDKey    = "trace_id"
	SpanIDKey     = "span_id"
)

// Formats are the values of WARREN_LOG_FORMAT.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// New returns a logger writing to w in format (text or json, slog's handlers) at level
// (debug, info, warn or error); the errors name the setting to fix.
func New(w io.Writer, format, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level (--log-level, WARREN_LOG_LEVEL) %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case FormatText, "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case FormatJSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format (--log-format, WARREN_LOG_FORMAT) %q: want text or json", format)
}

// Instance returns the attributes of a line about instance id, as key-value pairs for
// slog's Info, Warn, …: instance_id, then trace_id and span_id when sc is valid, then
// the line's own args.
func Instance(id string, sc trace.SpanContext, args ...any) []any {
	out := make([]any, 0, 6+len(args))
	out = append(out, InstanceIDKey, id)
	if sc.IsValid() {
		out = append(out, TraceIDKey, sc.TraceID().String(), SpanIDKey, sc.SpanID().String())
	}
	return append(out, args...)
}

// InstanceTrace is Instance for a line that knows only the instance's trace id (an
// instance document records its trace id, not a span).
func InstanceTrace(id, traceID string, args ...any) []any {
	out := make([]any, 0, 4+len(args))
	out = append(out, InstanceIDKey, id)
	if traceID != "" {
		out = append(out, TraceIDKey, traceID)
	}
	return append(out, args...)
}
