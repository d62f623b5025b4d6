package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	mongodrv "go.mongodb.org/mongo-driver/mongo"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/pause"
)

// maxUpdateRounds bounds the writes of one UpdateInstance that keeps finding an older
// document than its own after writing.
const maxUpdateRounds = 8

// Bounds of the pause between a write that replaced another process's document and its
// read-back (see UpdateInstance). Pausing twice as long as our own replace took let all
// but about one in two thousand racing older writes land before the read-back on FerretDB
// with SQLite, where a write may wait tens of milliseconds for the database lock; with a
// flat 2 ms a quarter of them landed after it (TestUpdateInstanceAcrossStores, 2 Stores).
const (
	minSettle = 2 * time.Millisecond
	maxSettle = 250 * time.Millisecond
)

// knownStatuses are the statuses [history.Instance.Newer] ranks.
var knownStatuses = []history.Status{
	history.StatusPending, history.StatusRunning, history.StatusSuspended, history.StatusCompleted,
	history.StatusFailed, history.StatusTerminated, history.StatusContinuedAsNew,
}

// UpdateInstance replaces the instance's document unless the stored one is newer
// ([history.Instance.Newer]): then it fails with history.ErrStaleInstance and writes
// nothing. It fails with history.ErrInstanceNotFound when there is no document.
//
// The replace is conditional on the stored version, which MongoDB applies atomically but
// FerretDB does not: it reads the matching document and writes it back in two steps, so two
// writers can both match the same old version and the older of them can write last. So:
//   - the writes of one Store to one document take turns, which leaves only the races
//     between processes;
//   - every write reads the document back and writes again while the stored version is
//     older than its own (a lost race repairs);
//   - when the document it replaced was written by another process (a partition that just
//     changed hands, or the dispatcher that created the instance), the write first waits
//     twice as long as its own replace took, so that an older write already under way in
//     the server lands before the read-back rather than after it.
//
// On FerretDB this narrows the window of a lost race between processes to an older write
// that takes much longer than ours; it does not close it. On MongoDB there is no window.
func (s *Store) UpdateInstance(ctx context.Context, inst *history.Instance) error {
	doc, err := encodeInstance(inst, s.writerID)
	if err != nil {
		return fmt.Errorf("update instance: %w", err)
	}
	op := fmt.Sprintf("update instance %q", inst.InstanceID)
	unlock := s.updates.lock(inst.InstanceID)
	defer unlock()
	for range maxUpdateRounds {
		began := time.Now()
		replaced, written, err := s.replaceIfNotNewer(ctx, inst, doc)
		if err != nil {
			return writeError(op, err)
		}
		if written && replaced != s.writerID {
			settle := min(max(2*time.Since(began), minSettle), maxSettle)
			if err := pause.For(ctx, settle); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
		}
		stored, err := s.GetInstance(ctx, inst.InstanceID)
		if errors.Is(err, history.ErrInstanceNotFound) {
			return fmt.Errorf("%s: %w", op, history.ErrInstanceNotFound)
		}
		if err != nil {
			return fmt.Errorf("%s: read back: %w", op, err)
		}
		switch {
		case stored.Newer(inst) && written:
			return nil // ours was written, and a newer version has replaced it since
		case stored.Newer(inst):
			return fmt.Errorf("%s: stored version (execution %d, episode %d, %s) is newer than (execution %d, episode %d, %s): %w",
				op, stored.Executions, stored.LastEpisode, stored.Status, inst.Executions, inst.LastEpisode, inst.Status,
				history.ErrStaleInstance)
		case written && !inst.Newer(stored):
			return nil // ours, or an equal version written since
		}
		// Either an older writer overwrote ours, or the document was newer when the filter
		// was applied and an older one has replaced it since: write ours again.
	}
	return fmt.Errorf("%s: the stored document was still older than ours after %d writes", op, maxUpdateRounds)
}

// replaceIfNotNewer replaces inst's document with doc unless the stored version is newer,
// and says whether it did and which Store wrote the document it replaced ("" for none).
func (s *Store) replaceIfNotNewer(ctx context.Context, inst *history.Instance, doc bson.Raw) (replaced string, written bool, err error) {
	var before struct {
		Writer string `bson:"writer"`
	}
	// FerretDB v1.24 refuses a projection here, so the whole previous document comes back.
	err = s.instances.FindOneAndReplace(ctx, notNewerThan(inst), doc).Decode(&before)
	if errors.Is(err, mongodrv.ErrNoDocuments) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return before.Writer, true, nil
}

// notNewerThan matches inst's document while the stored version is not newer than inst's:
// neither a later execution, nor a later episode of the same execution, nor at the same
// episode a status further along. A missing executions field counts as 0.
func notNewerThan(inst *history.Instance) bson.D {
	newer := bson.A{
		bson.D{{Key: "executions", Value: bson.D{{Key: "$gt", Value: inst.Executions}}}},
		bson.D{sameCount("executions", inst.Executions), {Key: "lastEpisode", Value: bson.D{{Key: "$gt", Value: inst.LastEpisode}}}},
	}
	if notAbove := statusesNotAbove(inst.Status); notAbove != nil {
		// Statuses outside the list rank above ours, as unknown ones do in Instance.Newer.
		newer = append(newer, bson.D{
			sameCount("executions", inst.Executions),
			sameCount("lastEpisode", inst.LastEpisode),
			{Key: "status", Value: bson.D{{Key: "$nin", Value: notAbove}}},
		})
	}
	return bson.D{{Key: "_id", Value: inst.InstanceID}, {Key: "$nor", Value: newer}}
}

// sameCount matches a counter equal to n, a missing one counting as 0.
func sameCount(field string, n int64) bson.E {
	if n == 0 {
		return bson.E{Key: field, Value: bson.D{{Key: "$in", Value: bson.A{int64(0), nil}}}}
	}
	return bson.E{Key: field, Value: n}
}

// statusesNotAbove lists the known statuses that do not rank above s at the same episode,
// or returns nil when none ranks above it.
func statusesNotAbove(s history.Status) []history.Status {
	ours := &history.Instance{Status: s}
	var notAbove []history.Status
	for _, k := range knownStatuses {
		if !(&history.Instance{Status: k}).Newer(ours) {
			notAbove = append(notAbove, k)
		}
	}
	if len(notAbove) == len(knownStatuses) {
		return nil
	}
	return notAbove
}

// newWriterID returns a random id for one Store.
func newWriterID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
