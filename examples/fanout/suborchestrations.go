package fanout

import (
	"fmt"

	"github.com/warrenhq/warren/durable"
)

// SubInput is SubOrchestrations' input.
type SubInput struct {
	Children   int `json:"children"`
	Activities int `json:"activities"`
}

// ChainInput is SquareChain's input: square From, From+1, … one activity at a time.
type ChainInput struct {
	From  int64 `json:"from"`
	Steps int   `json:"steps"`
}

// SubOrchestrations runs in.Children SquareChain sub-orchestrations in parallel, each of
// in.Activities activities in sequence, and returns the sum of their results. It is the
// benchmarks' sub-orchestration workload (100 children × 3 activities).
func SubOrchestrations(ctx *durable.OrchestrationContext, in SubInput) (int64, error) {
	if in.Children < 0 || in.Children > 10_000 || in.Activities < 0 || in.Activities > 1_000 {
		return 0, fmt.Errorf("children must be 0-10000 and activities 0-1000 (got %d and %d)", in.Children, in.Activities)
	}
	tasks := make([]durable.Task, in.Children)
	for i := range tasks {
		tasks[i] = ctx.CallSubOrchestrator("SquareChain", ChainInput{From: int64(i*in.Activities + 1), Steps: in.Activities})
	}
	var sums []int64
	if err := durable.WhenAll(tasks...).Await(&sums); err != nil {
		return 0, err
	}
	var total int64
	for _, s := range sums {
		total += s
	}
	return total, nil
}

// SquareChain squares in.From … in.From+in.Steps-1 with one Square activity after the
// other and returns the sum.
func SquareChain(ctx *durable.OrchestrationContext, in ChainInput) (int64, error) {
	var sum int64
	for i := range in.Steps {
		var sq int64
		if err := ctx.CallActivity("Square", in.From+int64(i)).Await(&sq); err != nil {
			return 0, err
		}
		sum += sq
	}
	return sum, nil
}
