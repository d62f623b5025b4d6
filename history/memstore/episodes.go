package memstore

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/internal/record"
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
		return s.episodes(instanceID, executionID)
	})
}

// episodes decodes the committed episodes of one execution in order, their payloads in
// place; the caller holds the lock.
func (s *Store) episodes(instanceID, executionID string) ([]history.Episode, error) {
	byNumber := s.history[instanceID][executionID]
	eps := make([]history.Episode, 0, len(byNumber))
	for _, n := range slices.Sorted(maps.Keys(byNumber)) {
		eps = append(eps, *decode[history.Episode](byNumber[n], historyRegistry))
	}
	if err := history.InlineEpisodes(context.Background(), lockedPayloads{s}, eps); err != nil {
		return nil, fmt.Errorf("memstore: load history of %q/%s: %w", instanceID, executionID, err)
	}
	return eps, nil
}

// CommitEpisodes stores each episode whose (instance, execution, number) is free. errs[i] is
// nil when eps[i] was committed, wraps history.ErrEpisodeConflict when its number was taken
// (by an earlier episode of the same call too), history.ErrInvalidArgument or
// history.ErrTooLarge when it was refused, or an injected fault (asked once per episode).
func (s *Store) CommitEpisodes(ctx context.Context, eps []*history.Episode) []error {
	errs := make([]error, len(eps))
	docs := make([]bson.Raw, len(eps))
	faults := make([]Fault, len(eps))
	payloads := make([][]history.Payload, len(eps))
	for i, ep := range eps {
		var stored *history.Episode
		stored, payloads[i] = history.OffloadEpisode(ep, s.opts.PayloadInlineMax)
		for _, p := range payloads[i] {
			if len(p.Data) > record.MaxBytes-1024 {
				errs[i] = fmt.Errorf("memstore: commit episode %s: %w: a payload of %d bytes", episodeName(ep), history.ErrTooLarge, len(p.Data))
			}
		}
		if errs[i] != nil {
			continue
		}
		if docs[i], errs[i] = encodeEpisode(stored); errs[i] != nil {
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
		s.putPayloads(payloads[i]) // before the episode, as history/mongo does
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
