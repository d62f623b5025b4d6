package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Protocols of the OTLP exporter (OTEL_EXPORTER_OTLP_PROTOCOL).
const (
	protocolGRPC = "grpc"
	protocolHTTP = "http/protobuf"
)

// exportConfig is what the OTEL_* environment says about exporting spans.
type exportConfig struct {
	// protocol is how spans go out; empty when they are not exported at all.
	protocol string
}

// exportConfigFrom reads the exporter settings through getenv. Spans are exported only when
// an OTLP endpoint is set, and not when OTEL_SDK_DISABLED is true or OTEL_TRACES_EXPORTER is
// none. The endpoint itself, headers, TLS and timeouts are read by the exporter.
func exportConfigFrom(getenv func(string) string) (exportConfig, error) {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	if strings.EqualFold(env("OTEL_SDK_DISABLED"), "true") {
		return exportConfig{}, nil
	}
	switch e := strings.ToLower(env("OTEL_TRACES_EXPORTER")); e {
	case "", "otlp":
	case "none":
		return exportConfig{}, nil
	default:
		return exportConfig{}, fmt.Errorf("OTEL_TRACES_EXPORTER=%q is not supported: use otlp or none", e)
	}
	if env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" && env("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
		return exportConfig{}, nil
	}
	p := env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if p == "" {
		p = env("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch strings.ToLower(p) {
	case "", protocolHTTP: // the specification's default
		return exportConfig{protocol: protocolHTTP}, nil
	case protocolGRPC:
		return exportConfig{protocol: protocolGRPC}, nil
	}
	return exportConfig{}, fmt.Errorf("OTLP protocol %q is not supported: use grpc or http/protobuf", p)
}

// Setup builds the tracer provider of a Warren binary from the standard OTEL_* environment
// variables and installs it, with the W3C trace-context propagator, as otel's globals.
//
// Spans go by OTLP (OTEL_EXPORTER_OTLP_PROTOCOL grpc or http/protobuf, the default) to
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT; with neither set they
// are recorded but not exported, and Setup does not fail. The resource names the service
// serviceName (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override it) and this process
// with a random service.instance.id. Sampling follows OTEL_TRACES_SAMPLER and batching
// OTEL_BSP_*. The provider uses IDGenerator, so orchestration spans get their fixed ids.
//
// shutdown flushes the spans not yet exported; call it before the process exits.
func Setup(ctx context.Context, serviceName string) (tp *sdktrace.TracerProvider, shutdown func(context.Context) error, err error) {
	tp, _, err = newProvider(ctx, serviceName, os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return tp, tp.Shutdown, nil
}

// newProvider builds Setup's provider; exp is its exporter, nil when nothing is exported.
func newProvider(ctx context.Context, serviceName string, getenv func(string) string) (tp *sdktrace.TracerProvider, exp sdktrace.SpanExporter, err error) {
	cfg, err := exportConfigFrom(getenv)
	if err != nil {
		return nil, nil, err
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithProcessPID(),
		resource.WithAttributes(
			semconv.ServiceName(serviceName),
			semconv.ServiceInstanceID(randomTraceID().String()),
		),
		resource.WithFromEnv(), // last: OTEL_SERVICE_NAME wins over serviceName
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, nil, fmt.Errorf("tracing resource: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(IDGenerator{}),
	}
	switch cfg.protocol {
	case protocolHTTP:
		if exp, err = otlptracehttp.New(ctx); err != nil {
			return nil, nil, fmt.Errorf("OTLP/HTTP trace exporter: %w", err)
		}
	case protocolGRPC:
		if exp, err = otlptracegrpc.New(ctx); err != nil {
			return nil, nil, fmt.Errorf("OTLP/gRPC trace exporter: %w", err)
		}
	}
	if exp != nil {
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	return sdktrace.NewTracerProvider(opts...), exp, nil
}
