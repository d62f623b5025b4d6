package memstore

import (
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/internal/record"
)

// The store refuses what history/mongo refuses, with the same errors, before any effect:
// what MongoDB or FerretDB on PostgreSQL could not keep (an id too long to key on, a NUL
// byte in a string, a document over 16 MiB) and what the store's interface rules out. The
// storetest suite checks that the two agree.

const (
	maxPartitions   = 1024
	defaultPageSize = 100
	maxPageSize     = 1000
)

// checkID refuses ids the real store cannot key on.
func checkID(what, id string) error { return record.CheckID(what, id) }

// checkDocument refuses an encoded record over the size limit, or holding a string with a
// NUL byte, which PostgreSQL's jsonb (FerretDB's storage) cannot hold. The store adds no
// fields of its own, so all of doc counts.
func checkDocument(what string, doc bson.Raw) error { return record.CheckDocument(what, doc, 0) }

// encodeInstance checks an instance and encodes it.
func encodeInstance(inst *history.Instance) (bson.Raw, error) {
	if inst == nil {
		return nil, fmt.Errorf("%w: nil instance", history.ErrInvalidArgument)
	}
	if err := checkID("instance id", inst.InstanceID); err != nil {
		return nil, err
	}
	if inst.Status == "" {
		return nil, fmt.Errorf("%w: instance %q has no status", history.ErrInvalidArgument, inst.InstanceID)
	}
	doc, err := bson.Marshal(inst)
	if err != nil {
		return nil, fmt.Errorf("%w: instance %q cannot be encoded: %v", history.ErrInvalidArgument, inst.InstanceID, err)
	}
	return doc, checkDocument(fmt.Sprintf("instance %q", inst.InstanceID), doc)
}

// encodeEpisode checks an episode and encodes it.
func encodeEpisode(ep *history.Episode) (bson.Raw, error) {
	if ep == nil {
		return nil, fmt.Errorf("%w: nil episode", history.ErrInvalidArgument)
	}
	if err := checkID("instance id", ep.InstanceID); err != nil {
		return nil, err
	}
	if err := checkID("execution id", ep.ExecutionID); err != nil {
		return nil, fmt.Errorf("instance %q: %w", ep.InstanceID, err)
	}
	if ep.Number < 1 {
		return nil, fmt.Errorf("%w: instance %q: episode number %d (episodes count from 1)", history.ErrInvalidArgument, ep.InstanceID, ep.Number)
	}
	doc, err := record.Marshal(historyRegistry, ep)
	if err != nil {
		return nil, fmt.Errorf("%w: episode %s cannot be encoded: %v", history.ErrInvalidArgument, episodeName(ep), err)
	}
	return doc, checkDocument("episode "+episodeName(ep), doc)
}

// encodeWorker checks a heartbeat record and encodes it, stamped at now.
func encodeWorker(w history.WorkerInfo, now time.Time) (bson.Raw, error) {
	if err := checkID("worker id", w.WorkerID); err != nil {
		return nil, err
	}
	w.HeartbeatAt = now
	doc, err := bson.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("%w: worker %q cannot be encoded: %v", history.ErrInvalidArgument, w.WorkerID, err)
	}
	return doc, checkDocument(fmt.Sprintf("worker %q", w.WorkerID), doc)
}

func episodeName(ep *history.Episode) string {
	return fmt.Sprintf("%q/%s#%d", ep.InstanceID, ep.ExecutionID, ep.Number)
}
