package sim

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
)

func TestDebugSeed(t *testing.T) {
	seed, _ := strconv.ParseUint(os.Getenv("SIM_DEBUG"), 10, 64)
	if seed == 0 {
		t.Skip()
	}
	id := os.Getenv("SIM_ID")
	w, err := newWorld(Options{Seed: seed, NoFaults: os.Getenv("SIM_NOFAULTS") != "", MaxSteps: 20000, StepTimeout: 10e9})
	if err != nil {
		t.Fatal(err)
	}
	w.loop()
	inst, _ := w.store.GetInstance(context.Background(), id)
	fmt.Printf("%+v\n", inst)
	eps, _ := w.store.LoadHistory(context.Background(), id, inst.ExecutionID)
	for _, ep := range eps {
		fmt.Println("episode", ep.Number, ep.Consumed)
		for _, ev := range ep.Events {
			fmt.Printf("   %s %d %s %s\n", ev.Kind, ev.TaskID, ev.Name, ev.MessageID)
		}
	}
	fmt.Println(w.schedule)
	for _, q := range w.broker.Queues() {
		for _, m := range w.broker.Pending(q) {
			fmt.Println("PENDING", q, m.ID, m.Kind, m.InstanceID)
		}
	}
	for _, q := range w.broker.Queues() {
		for _, m := range w.broker.Unsettled(q) {
			fmt.Println("UNSETTLED", q, m.ID, m.Kind, m.InstanceID)
		}
	}
	for _, n := range w.nodes {
		if !n.dead {
			fmt.Println("node", n.id, "inbox", n.steps.Inbox(), "activities", n.steps.Activities(), "owned", n.steps.Owned(), "pause", n.pauseUntil.Sub(w.clock))
		}
	}
	for _, m := range w.broker.DeadLetters() {
		fmt.Println("DL", m.ID, m.Kind, m.InstanceID, m.Reason)
	}
}
