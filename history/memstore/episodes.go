package memstore

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/warrenhq/warren/history"
)

// LoadHistory returns copies of the committed episodes of one execution in episode order.
func (s *Store) LoadHistory(ctx context.Context, instanceID, executionID string) ([]history.Episode, error) {
	if err := checkID("instance id", instanceID); err != nil {
		return nil, fmt.Errorf("memstore: load history: %w", err)
	}
	if err := checkID("execution id", executionID); err != nil {
		return nil, fmt.Errorf("memstore: load history of %q: %w", instanceID, err)
	}
	return run(ctx, s, Op{Kind: OpLoadHistory, InstanceID: instanceID}, func() ([]history.Episode, error) {
		return s.episodes(instanceID, executionID), nil
	})
}

// episodes decodes the committed episodes of one execution in order; the caller holds the
// lock.
func (s *Store) episodes(instanceID, executionID string) []history.Episode {
	byNumber := s.history[instanceID][executionID]
	eps := make([]history.Episode, 0, len(byNumber))
	for _, n := range slices.Sorted(maps.Keys(byNumber)) {
		eps = append(eps, *decode[history.Episode](byNumber[n], historyRegistry))
	}
	return eps
}

// CommitEpisodes stores each episode whose (instance, execution, number) is free. errs[i] is
// nil when eps[i] was committed, wraps history.ErrEpisodeConflict when its number was taken
// (by an earlier episode of the same call too), history.ErrInvalidArgument or
// history.ErrTooLarge when it was refused, or an injected fault (asked once per episode).
func (s *Store) CommitEpisodes(ctx context.Context, eps []*history.Episode) []error {
	errs := make([]error, len(eps))
	docs := make([]bson.Raw, len(eps))
	faults := make([]Fault, len(eps))
	for i, ep := range eps {
		if docs[i], errs[i] = encodeEpisode(ep); errs[i] != nil {
			errs[i] = fmt.Errorf("memstore: commit episode: %w", errs[i])
			continue
		}
		if err := ctx.Err(); err != nil {
			errs[i] = fmt.Errorf("memstore: commit episode %s: %w", episodeName(ep), err)
			continue
		}
		faults[i] = s.fault(Op{Kind: OpCommitEpisodes, InstanceID: ep.InstanceID})
	}
	s.mu.Lock()
	for i, ep := range eps {
		if errs[i] != nil || faults[i].Err != nil && !faults[i].AfterEffect {
			continue
		}
		byExecution := s.history[ep.InstanceID]
		if byExecution == nil {
			byExecution = make(map[string]map[int64]bson.Raw)
			s.history[ep.InstanceID] = byExecution
		}
		byNumber := byExecution[ep.ExecutionID]
		if byNumber == nil {
			byNumber = make(map[int64]bson.Raw)
			byExecution[ep.ExecutionID] = byNumber
		}
		if _, taken := byNumber[ep.Number]; taken {
			errs[i] = fmt.Errorf("memstore: commit episode %s: %w", episodeName(ep), history.ErrEpisodeConflict)
			continue
		}
		byNumber[ep.Number] = docs[i]
	}
	s.mu.Unlock()
	for i, ep := range eps {
		if faults[i].Err != nil {
			errs[i] = faultError(Op{Kind: OpCommitEpisodes, InstanceID: ep.InstanceID}, faults[i])
		}
	}
	return errs
}
