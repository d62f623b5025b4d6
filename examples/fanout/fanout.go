// Package fanout shows fan-out/fan-in: many activities in parallel, then one result; and
// many sub-orchestrations in parallel, each a short sequence of activities.
package fanout

import (
	"context"
	"errors"
	"fmt"

	"github.com/warrenhq/warren/durable"
)

// Register adds FanOutFanIn, SubOrchestrations, SquareChain and Square to r.
func Register(r *durable.Registry) error {
	return errors.Join(
		durable.AddOrchestrator(r, "FanOutFanIn", FanOutFanIn),
		durable.AddOrchestrator(r, "SubOrchestrations", SubOrchestrations),
		durable.AddOrchestrator(r, "SquareChain", SquareChain),
		durable.AddActivity(r, "Square", Square),
	)
}

// Input is FanOutFanIn's input.
type Input struct {
	Count int `json:"count"`
}

// FanOutFanIn squares 1 … in.Count with one Square activity each, all in parallel, and
// returns the sum of the squares.
func FanOutFanIn(ctx *durable.OrchestrationContext, in Input) (int64, error) {
	if in.Count < 0 || in.Count > 100_000 {
		return 0, fmt.Errorf("count must be between 0 and 100000 (got %d)", in.Count)
	}
	tasks := make([]durable.Task, in.Count)
	for i := range tasks {
		tasks[i] = ctx.CallActivity("Square", i+1)
	}
	var squares []int64
	if err := durable.WhenAll(tasks...).Await(&squares); err != nil {
		return 0, err
	}
	var sum int64
	for _, s := range squares {
		sum += s
	}
	return sum, nil
}

// Square returns n².
func Square(_ context.Context, n int64) (int64, error) { return n * n, nil }
