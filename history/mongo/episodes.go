package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/internal/record"
)

// duplicateKeyCode is the server's code for a unique-index violation.
const duplicateKeyCode = 11000

func checkEpisode(ep *history.Episode) error {
	if ep == nil {
		return fmt.Errorf("%w: nil episode", ErrInvalidArgument)
	}
	if err := checkID("instance id", ep.InstanceID); err != nil {
		return err
	}
	if err := checkID("execution id", ep.ExecutionID); err != nil {
		return fmt.Errorf("instance %q: %w", ep.InstanceID, err)
	}
	if ep.Number < 1 {
		return fmt.Errorf("%w: instance %q: episode number %d (episodes count from 1)", ErrInvalidArgument, ep.InstanceID, ep.Number)
	}
	return nil
}

// marshalEpisode checks an episode and encodes it once, so that one episode too large to
// store is refused on its own instead of failing the whole insertMany.
func marshalEpisode(ep *history.Episode) (bson.Raw, error) {
	if err := checkEpisode(ep); err != nil {
		return nil, err
	}
	doc, err := record.Marshal(historyRegistry, ep)
	if err != nil {
		return nil, fmt.Errorf("%w: episode %s cannot be encoded: %v", ErrInvalidArgument, episodeName(ep), err)
	}
	if err := checkDocument("episode "+episodeName(ep), doc, 0); err != nil {
		return nil, err
	}
	return doc, nil
}

// LoadHistory returns the committed episodes of one execution in episode order.
func (s *Store) LoadHistory(ctx context.Context, instanceID, executionID string) ([]history.Episode, error) {
	if err := checkID("instance id", instanceID); err != nil {
		return nil, fmt.Errorf("load history: %w", err)
	}
	if err := checkID("execution id", executionID); err != nil {
		return nil, fmt.Errorf("load history of %q: %w", instanceID, err)
	}
	cur, err := s.history.Find(ctx,
		bson.D{{Key: "instanceId", Value: instanceID}, {Key: "executionId", Value: executionID}},
		options.Find().SetSort(bson.D{{Key: "number", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("load history of %q/%s: %w", instanceID, executionID, err)
	}
	eps := []history.Episode{}
	if err := cur.All(ctx, &eps); err != nil {
		return nil, fmt.Errorf("load history of %q/%s: %w", instanceID, executionID, err)
	}
	if err := history.InlineEpisodes(ctx, s, eps); err != nil {
		return nil, fmt.Errorf("load history of %q/%s: %w", instanceID, executionID, err)
	}
	return eps, nil
}

// CommitEpisodes inserts the episodes with one unordered insertMany: each one is committed
// or refused on its own. errs[i] is nil when eps[i] was committed, wraps
// history.ErrEpisodeConflict when its (instance, execution, number) was already taken,
// wraps history.ErrInvalidArgument or history.ErrTooLarge when it was not sent, and is
// another error otherwise. After an
// error that is neither (a lost connection, a write-concern failure) the episode may or may
// not be committed; reloading the history tells.
func (s *Store) CommitEpisodes(ctx context.Context, eps []*history.Episode) []error {
	errs := make([]error, len(eps))
	docs := make([]any, 0, len(eps))
	sent := make([]int, 0, len(eps)) // sent[j] is the index in eps of docs[j]
	// Payloads first: an episode is never committed before what it refers to. The episodes
	// that have none cost nothing more.
	stored := make([]*history.Episode, len(eps))
	var payloads []history.Payload
	var with []int // the episodes that have payloads
	for i, ep := range eps {
		var ps []history.Payload
		stored[i], ps = history.OffloadEpisode(ep, s.inlineMax)
		if len(ps) > 0 {
			payloads = append(payloads, ps...)
			with = append(with, i)
		}
	}
	if err := s.PutPayloads(ctx, payloads); err != nil {
		for _, i := range with {
			errs[i] = fmt.Errorf("commit episode %s: %w", episodeName(eps[i]), err)
		}
	}
	for i, ep := range stored {
		if errs[i] != nil {
			continue
		}
		doc, err := marshalEpisode(ep)
		if err != nil {
			errs[i] = fmt.Errorf("commit episode: %w", err)
			continue
		}
		docs = append(docs, doc)
		sent = append(sent, i)
	}
	name := func(j int) string { return "commit episode " + episodeName(eps[sent[j]]) }
	for j, err := range insertEach(ctx, s.history, docs, history.ErrEpisodeConflict, name) {
		errs[sent[j]] = err
	}
	return errs
}

func episodeName(ep *history.Episode) string {
	return fmt.Sprintf("%q/%s#%d", ep.InstanceID, ep.ExecutionID, ep.Number)
}
