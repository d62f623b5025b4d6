package durable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/warrenhq/warren/history"
)

// orchestratorFunc is a registered orchestrator with its input and output in JSON.
type orchestratorFunc func(ctx *OrchestrationContext, input json.RawMessage) (json.RawMessage, error)

// activityFunc is a registered activity with its input and output in JSON.
type activityFunc func(ctx context.Context, input json.RawMessage) (json.RawMessage, error)

// Registry holds the orchestrators and activities a worker (or a durabletest harness) can
// run, by name. Register everything before the registry is used; lookups are safe from many
// goroutines.
type Registry struct {
	mu            sync.RWMutex
	orchestrators map[string]orchestratorFunc
	activities    map[string]activityFunc
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{orchestrators: map[string]orchestratorFunc{}, activities: map[string]activityFunc{}}
}

// AddOrchestrator registers fn under name. The input is decoded from JSON into I (a missing
// or null input gives I's zero value) and the output encoded to JSON. Registering a name
// twice is an error.
func AddOrchestrator[I, O any](r *Registry, name string, fn func(*OrchestrationContext, I) (O, error)) error {
	if fn == nil {
		return fmt.Errorf("orchestrator %q: nil function", name)
	}
	return r.addOrchestrator(name, func(ctx *OrchestrationContext, input json.RawMessage) (json.RawMessage, error) {
		var in I
		if err := decodeInput(input, &in); err != nil {
			return nil, fmt.Errorf("decoding the input of orchestrator %q: %w", name, err)
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	})
}

// AddActivity registers fn under name, with JSON input and output like AddOrchestrator.
// Registering a name twice is an error.
func AddActivity[I, O any](r *Registry, name string, fn func(context.Context, I) (O, error)) error {
	if fn == nil {
		return fmt.Errorf("activity %q: nil function", name)
	}
	return r.addActivity(name, func(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
		var in I
		if err := decodeInput(input, &in); err != nil {
			return nil, fmt.Errorf("decoding the input of activity %q: %w", name, err)
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	})
}

func (r *Registry) addOrchestrator(name string, fn orchestratorFunc) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("orchestrator name must not be empty")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.orchestrators[name]; dup {
		return fmt.Errorf("orchestrator %q is already registered", name)
	}
	r.orchestrators[name] = fn
	return nil
}

func (r *Registry) addActivity(name string, fn activityFunc) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("activity name must not be empty")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.activities[name]; dup {
		return fmt.Errorf("activity %q is already registered", name)
	}
	r.activities[name] = fn
	return nil
}

// Orchestrators returns the registered orchestrator names, sorted.
func (r *Registry) Orchestrators() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return sortedKeys(r.orchestrators)
}

// Activities returns the registered activity names, sorted.
func (r *Registry) Activities() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return sortedKeys(r.activities)
}

// HasActivity reports whether an activity is registered as name.
func (r *Registry) HasActivity(name string) bool { return r.activity(name) != nil }

func (r *Registry) orchestrator(name string) orchestratorFunc {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.orchestrators[name]
}

func (r *Registry) activity(name string) activityFunc {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.activities[name]
}

// ActivityInfo describes the activity attempt that is running.
type ActivityInfo struct {
	InstanceID  string // the orchestration that scheduled the activity
	ExecutionID string
	Name        string
	TaskID      int64
	Attempt     int // from 1
	// Timeout bounds the attempt (WithTimeout); 0: none.
	Timeout time.Duration
	// HeartbeatTimeout is how long the attempt may go without calling Heartbeat
	// (WithHeartbeatTimeout); 0: no limit.
	HeartbeatTimeout time.Duration
	// LastHeartbeat are the details of the last heartbeat an earlier attempt of this task
	// recorded before it failed, as JSON ("" on a first attempt; a string keeps
	// ActivityInfo comparable); decode them with LastHeartbeat.
	LastHeartbeat string
}

type activityInfoKey struct{}

// GetActivityInfo returns the ActivityInfo that RunActivity put into ctx (the zero value
// outside an activity).
func GetActivityInfo(ctx context.Context) ActivityInfo {
	info, _ := ctx.Value(activityInfoKey{}).(ActivityInfo)
	return info
}

// RunActivity runs one attempt of the activity name. Its error, a panic (with the panic
// value and stack) or an unknown name all come back as a Failure, never as a Go panic; an
// unknown name's Failure (Type ActivityNotRegistered) is NonRetriable, so the task fails
// at once whatever its retry policy. Inside the activity, GetActivityInfo(ctx) returns
// info.
func (r *Registry) RunActivity(ctx context.Context, info ActivityInfo, name string, input json.RawMessage) (out json.RawMessage, failure *history.Failure) {
	fn := r.activity(name)
	if fn == nil {
		return nil, &history.Failure{Type: ActivityNotRegistered, NonRetriable: true,
			Message: fmt.Sprintf("activity %q is not registered (registered: %s)", name, strings.Join(r.Activities(), ", "))}
	}
	info.Name = name
	ctx = context.WithValue(ctx, activityInfoKey{}, info)
	hb := &heartbeats{beat: make(chan struct{}, 1)}
	ctx = context.WithValue(ctx, heartbeatKey{}, hb)
	if info.Timeout <= 0 && info.HeartbeatTimeout <= 0 {
		out, failure = runAttempt(ctx, fn, input)
	} else {
		out, failure = boundedAttempt(ctx, info, hb, fn, input)
	}
	if failure != nil && len(failure.Details) == 0 {
		failure.Details = hb.recorded()
	}
	return out, failure
}

// runAttempt runs fn, turning its error or panic into a Failure.
func runAttempt(ctx context.Context, fn activityFunc, input json.RawMessage) (out json.RawMessage, failure *history.Failure) {
	defer func() {
		if p := recover(); p != nil {
			out, failure = nil, &history.Failure{Type: "Panic", Message: fmt.Sprint(p), Stack: string(debug.Stack())}
		}
	}()
	out, err := fn(ctx, input)
	if err != nil {
		return nil, failureOf(err)
	}
	return out, nil
}

// decodeInput decodes a JSON input into v; nothing or null leaves v at its zero value.
func decodeInput(input json.RawMessage, v any) error {
	if len(input) == 0 || string(input) == "null" {
		return nil
	}
	return json.Unmarshal(input, v)
}

func sortedKeys[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
