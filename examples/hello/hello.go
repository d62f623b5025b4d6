// Package hello is the smallest Warren example: an orchestration calling one activity five
// times in sequence.
package hello

import (
	"context"
	"errors"
	"strings"

	"github.com/warrenhq/warren/durable"
)

// Register adds HelloSequence and SayHello to r.
func Register(r *durable.Registry) error {
	return errors.Join(
		durable.AddOrchestrator(r, "HelloSequence", HelloSequence),
		durable.AddActivity(r, "SayHello", SayHello),
	)
}

// HelloSequence greets name five times, one activity after the other, and returns the
// greetings joined by a space.
func HelloSequence(ctx *durable.OrchestrationContext, name string) (string, error) {
	greetings := make([]string, 0, 5)
	for range 5 {
		var g string
		if err := ctx.CallActivity("SayHello", name).Await(&g); err != nil {
			return "", err
		}
		greetings = append(greetings, g)
	}
	return strings.Join(greetings, " "), nil
}

// SayHello returns "Hello, <name>!".
func SayHello(_ context.Context, name string) (string, error) {
	return "Hello, " + name + "!", nil
}
