// Package storetest is the behavioural test suite of a [history.Store]. Every store runs the
// same tests, so a new store proves itself by passing them:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) history.Store { return openEmptyHub(t) })
//	}
//
// The suite holds the store's contract where the interface's doc comments leave off: which
// error each refusal wraps, how instance times round (milliseconds, UTC), in which order
// lists and histories come back, which races have exactly one winner. [Run] is the suite of
// the interface; [RunDeadLetters] and [RunCount] those of the optional interfaces.
package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// The limits every store enforces (see [history.ErrInvalidArgument], [history.ErrTooLarge]).
const (
	maxIDBytes       = history.MaxInstanceIDBytes // instance, execution and worker ids
	maxPageSize      = 1000                       // ListFilter.PageSize
	maxPartitions    = 1024                       // EnsureHub
	maxDocumentBytes = 16 << 20                   // one instance document or one episode, BSON-encoded
)

// Run runs the suite, one subtest per behaviour. newStore must return a store on an empty
// hub each time it is called, and clean it up when t ends. The store's clock (heartbeats)
// must be within a minute of the test's.
func Run(t *testing.T, newStore func(t *testing.T) history.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s history.Store)
	}{
		{"InstanceLifecycle", testInstanceLifecycle},
		{"InstanceTimesKeepMilliseconds", testInstanceTimesKeepMilliseconds},
		{"GetInstancesReadsMany", testGetInstances},
		{"CreateInstanceRaceHasOneWinner", testCreateInstanceRace},
		{"CreateInstancesEachSucceedsOrFailsAlone", testCreateInstancesEachAlone},
		{"RecordsAreCopied", testRecordsAreCopied},
		{"UpdateInstanceIsMonotonic", testUpdateInstanceIsMonotonic},
		{"ConcurrentUpdatesKeepTheNewest", testConcurrentUpdatesKeepTheNewest},
		{"UpdateInstancesEachSucceedsOrFailsAlone", testUpdateInstancesEachAlone},
		{"CommitEpisodeRaceHasOneWinner", testCommitEpisodeRace},
		{"CommitEpisodesEachSucceedsOrConflictsAlone", testCommitEpisodesEachAlone},
		{"CommitEpisodesEmptyBatch", testCommitEpisodesEmptyBatch},
		{"HistoryRoundTripsByteForByte", testHistoryRoundTrip},
		{"LoadHistoryInEpisodeOrder", testLoadHistoryOrder},
		{"LoadHistoryOfUnknownExecutionIsEmpty", testLoadHistoryUnknown},
		{"LoadHistoriesOfManyExecutions", testLoadHistories},
		{"ListInstancesFiltersAndPages", testListFiltersAndPages},
		{"ListInstancesPagingWhileCreating", testListPagingWhileCreating},
		{"Purge", testPurge},
		{"PurgeSparesANewExecution", testPurgeSparesANewExecution},
		{"PurgeInstancesFilters", testPurgeInstancesFilters},
		{"PurgeInstancesInBatches", testPurgeInstancesInBatches},
		{"PurgeInstancesSparesANewExecution", testPurgeInstancesSparesANewExecution},
		{"HeartbeatsAndLiveWorkers", testHeartbeatsAndLiveWorkers},
		{"LivenessIgnoresWorkerClocks", testLivenessIgnoresWorkerClocks},
		{"ConcurrentHeartbeatsOfANewWorker", testConcurrentHeartbeats},
		{"EnsureHubFixesThePartitionCount", testEnsureHub},
		{"EnsureHubConcurrentFirstUse", testEnsureHubConcurrent},
		{"BadInputIsRefused", testBadInput},
		{"TooLargeIsRefused", testTooLarge},
		{"LargePayloadsAreKeptBesideTheHistory", testLargePayloads},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// testContext bounds one test's store calls.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func instance(id string, status history.Status, created time.Time) *history.Instance {
	return &history.Instance{
		InstanceID: id, Name: "Provision", ExecutionID: "exec-" + id, Status: status,
		CreatedAt: created, LastUpdatedAt: created,
	}
}

// episode is a small episode whose marker (its one consumed message id) says who wrote it.
func episode(instanceID, executionID string, number int64, marker string) *history.Episode {
	return &history.Episode{
		InstanceID: instanceID, ExecutionID: executionID, Number: number,
		Events: []history.Event{{
			Version: history.VersionOf(history.TaskCompleted), Kind: history.TaskCompleted, TaskID: number,
			Timestamp: time.Date(2026, 11, 25, 12, 0, 0, int(number), time.UTC),
			Result:    json.RawMessage(`"` + marker + `"`),
		}},
		Consumed:    []string{marker},
		CommittedAt: time.Date(2026, 11, 25, 12, 0, 1, 0, time.UTC),
	}
}

// commit commits episodes that must all be new.
func commit(t *testing.T, s history.Store, eps ...*history.Episode) {
	t.Helper()
	for i, err := range s.CommitEpisodes(testContext(t), eps) {
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
}

// markers lists the markers of an execution's history in the order LoadHistory returns.
func markers(t *testing.T, s history.Store, instanceID, executionID string) []string {
	t.Helper()
	eps, err := s.LoadHistory(testContext(t), instanceID, executionID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ep := range eps {
		got = append(got, ep.Consumed[0])
	}
	return got
}
