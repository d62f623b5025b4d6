package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

func testPurge(t *testing.T, s history.Store) {
	ctx := testContext(t)
	now := time.Now().UTC()
	for _, inst := range []*history.Instance{
		instance("running", history.StatusRunning, now),
		instance("done", history.StatusCompleted, now),
		instance("neighbour", history.StatusCompleted, now),
		instance("continued", history.StatusContinuedAsNew, now),
	} {
		if err := s.CreateInstance(ctx, inst); err != nil {
			t.Fatal(err)
		}
	}
	commit(t, s,
		episode("running", "exec-running", 1, "r1"),
		episode("done", "old-exec", 1, "d-old"),
		episode("done", "exec-done", 1, "d1"),
		episode("done", "exec-done", 2, "d2"),
		episode("neighbour", "exec-neighbour", 1, "n1"),
	)

	for _, id := range []string{"running", "continued"} {
		if err := s.Purge(ctx, id); !errors.Is(err, history.ErrNotTerminal) {
			t.Errorf("purge %s = %v, want ErrNotTerminal", id, err)
		}
		if _, err := s.GetInstance(ctx, id); err != nil {
			t.Errorf("refused purge of %s still removed it: %v", id, err)
		}
	}
	if got := markers(t, s, "running", "exec-running"); len(got) != 1 {
		t.Errorf("refused purge touched the history: %q", got)
	}

	if err := s.Purge(ctx, "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetInstance(ctx, "done"); !errors.Is(err, history.ErrInstanceNotFound) {
		t.Errorf("purged instance still readable: %v", err)
	}
	for _, exec := range []string{"exec-done", "old-exec"} {
		if got := markers(t, s, "done", exec); len(got) != 0 {
			t.Errorf("history of purged execution %s: %q", exec, got)
		}
	}
	if got := markers(t, s, "neighbour", "exec-neighbour"); len(got) != 1 {
		t.Errorf("purge touched another instance's history: %q", got)
	}
	if err := s.Purge(ctx, "done"); !errors.Is(err, history.ErrInstanceNotFound) {
		t.Errorf("second purge = %v, want ErrInstanceNotFound", err)
	}
}

// A purge racing a restart of the same instance (its document moves to a new execution, then
// the new execution commits its first episode) never erases the new execution's history, and
// a refused purge erases nothing: the store lists the executions to delete first, deletes
// the document only while it is terminal, and then only the listed executions' history.
func testPurgeSparesANewExecution(t *testing.T, s history.Store) {
	ctx := testContext(t)
	for round := range 30 {
		id := fmt.Sprintf("restarted-%d", round)
		var purgeErr error
		committed := raceARestart(t, s, id, func() { purgeErr = s.Purge(ctx, id) })
		if committed {
			if got := markers(t, s, id, "exec-2"); len(got) != 1 {
				t.Fatalf("round %d: purge (%v) erased the new execution's first episode", round, purgeErr)
			}
		}
		switch {
		case purgeErr == nil:
			if got := markers(t, s, id, "exec-1"); len(got) != 0 {
				t.Fatalf("round %d: purge succeeded but left %q", round, got)
			}
		case errors.Is(purgeErr, history.ErrNotTerminal):
			if got := markers(t, s, id, "exec-1"); len(got) != 2 {
				t.Fatalf("round %d: a refused purge erased history: %q left", round, got)
			}
		default:
			t.Fatalf("round %d: purge: %v", round, purgeErr)
		}
	}
}

// raceARestart stores instance id Completed in execution exec-1 with two episodes, then runs
// purge at the same moment as a restart: the document moves to exec-2, Running, and exec-2
// commits its first episode. It reports whether that episode was committed (the restart
// finds no document when the purge came first).
func raceARestart(t *testing.T, s history.Store, id string, purge func()) (committed bool) {
	t.Helper()
	ctx := testContext(t)
	old := version(id, 1, 2, history.StatusCompleted, "old")
	old.ExecutionID = "exec-1"
	if err := s.CreateInstance(ctx, old); err != nil {
		t.Fatal(err)
	}
	commit(t, s, episode(id, "exec-1", 1, "old 1"), episode(id, "exec-1", 2, "old 2"))

	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		<-start
		purge()
	}()
	go func() {
		defer wg.Done()
		restarted := version(id, 2, 0, history.StatusRunning, "new")
		restarted.ExecutionID = "exec-2"
		<-start
		if err := s.UpdateInstance(ctx, restarted); err != nil {
			if !errors.Is(err, history.ErrInstanceNotFound) {
				t.Errorf("%s: restart: %v", id, err)
			}
			return
		}
		err := s.CommitEpisodes(ctx, []*history.Episode{episode(id, "exec-2", 1, "new 1")})[0]
		if err != nil {
			t.Errorf("%s: first episode of the new execution: %v", id, err)
		}
		committed = err == nil
	}()
	close(start)
	wg.Wait()
	return committed
}
