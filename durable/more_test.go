package durable_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/retrypolicy"
)

func TestRetryTimeoutStopsRetries(t *testing.T) {
	r := durable.NewRegistry()
	attempts := 0
	must(t, durable.AddActivity(r, "Fail", func(context.Context, struct{}) (int, error) {
		attempts++
		return 0, errors.New("no")
	}))
	must(t, durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, _ struct{}) (int, error) {
		return 0, ctx.CallActivity("Fail", nil, durable.WithRetry(retrypolicy.Policy{
			MaxAttempts: 10, FirstInterval: time.Minute, BackoffCoefficient: 2, RetryTimeout: 5 * time.Minute})).Await(nil)
	}))
	h := durabletest.New(r)
	must(t, h.Start("O", "o", nil))
	must(t, h.Run())
	wantStatus(t, h, "o", history.StatusFailed)
	// Waits of 1m and 2m fit in 5 minutes (retries at +1m, +3m); the next (4m, to +7m) does not.
	if attempts != 3 || h.Now().Sub(durabletest.Start) != 3*time.Minute {
		t.Fatalf("%d attempts, clock +%v", attempts, h.Now().Sub(durabletest.Start))
	}
}

func TestWhenAllAndWhenAny(t *testing.T) {
	r := durable.NewRegistry()
	must(t, durable.AddActivity(r, "Echo", func(_ context.Context, s string) (string, error) {
		if s == "bad" || s == "worse" {
			return "", errors.New(s)
		}
		return s, nil
	}))
	must(t, durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, in []string) (string, error) {
		tasks := make([]durable.Task, len(in))
		for i, s := range in {
			tasks[i] = ctx.CallActivity("Echo", s)
		}
		var first int
		if err := durable.WhenAny(tasks...).Await(&first); err != nil {
			return "", err
		}
		var all []string
		err := durable.WhenAll(tasks...).Await(&all)
		for _, task := range tasks {
			if !task.Done() {
				return "", errors.New("WhenAll returned before every task was done")
			}
		}
		var tf *durable.TaskFailedError
		if errors.As(err, &tf) {
			return fmt.Sprintf("first %d, failed %s", first, tf.Message), nil
		}
		return fmt.Sprintf("first %d, all %v", first, all), err
	}))
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"a", "b", "c"}, "first 0, all [a b c]"},
		{[]string{"a", "bad", "worse"}, "first 0, failed bad"},
		{nil, "first 0, all []"},
	} {
		h := durabletest.New(r)
		must(t, h.Start("O", "o", c.in))
		must(t, h.Run())
		if c.in == nil {
			wantStatus(t, h, "o", history.StatusFailed) // WhenAny of nothing
			continue
		}
		wantOutput(t, h, "o", c.want)
	}
}

func TestConcurrentExecutes(t *testing.T) {
	r := seqRegistry(t)
	exec := durable.NewExecutor(r)
	past := concat(ep1, ep2, ep3)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				res, err := exec.Execute(fmt.Sprint("o", g), past, one(doneC), at(3))
				if err == nil && res.Status != history.StatusCompleted {
					err = fmt.Errorf("status %s", res.Status)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
