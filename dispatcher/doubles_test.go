package dispatcher

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// memStore is an in-memory history.Store for the handler tests of input validation. It
// counts writes so that a test can assert that bad input wrote nothing.
type memStore struct {
	mu        sync.Mutex
	instances map[string]history.Instance
	episodes  map[string][]history.Episode
	workers   []history.WorkerInfo
	writes    int
	reads     int   // GetInstance calls
	failWith  error // every call fails with it when set
}

func newMemStore(orchestrators ...string) *memStore {
	s := &memStore{instances: map[string]history.Instance{}, episodes: map[string][]history.Episode{}}
	if len(orchestrators) > 0 {
		s.workers = []history.WorkerInfo{{WorkerID: "w1", Host: "h", Orchestrators: orchestrators, HeartbeatAt: time.Now()}}
	}
	return s
}

func (s *memStore) EnsureHub(ctx context.Context, partitions int) error { return nil }

func (s *memStore) CreateInstance(ctx context.Context, inst *history.Instance) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWith != nil {
		return s.failWith
	}
	if _, ok := s.instances[inst.InstanceID]; ok {
		return history.ErrInstanceExists
	}
	s.instances[inst.InstanceID] = *inst
	s.writes++
	return nil
}

func (s *memStore) GetInstance(ctx context.Context, id string) (*history.Instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.failWith != nil {
		return nil, s.failWith
	}
	inst, ok := s.instances[id]
	if !ok {
		return nil, history.ErrInstanceNotFound
	}
	return &inst, nil
}

func (s *memStore) ListInstances(ctx context.Context, f history.ListFilter) ([]history.Instance, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWith != nil {
		return nil, "", s.failWith
	}
	var out []history.Instance
	for _, inst := range s.instances {
		if (f.Name != "" && inst.Name != f.Name) || (f.ParentID != "" && inst.ParentInstanceID != f.ParentID) {
			continue
		}
		if len(f.Statuses) > 0 {
			found := false
			for _, st := range f.Statuses {
				found = found || st == inst.Status
			}
			if !found {
				continue
			}
		}
		out = append(out, inst)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].InstanceID < out[j].InstanceID })
	return out, "", nil
}

func (s *memStore) UpdateInstance(ctx context.Context, inst *history.Instance) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWith != nil {
		return s.failWith
	}
	old, ok := s.instances[inst.InstanceID]
	if !ok {
		return history.ErrInstanceNotFound
	}
	// Monotonic, as history.Store demands.
	if old.Newer(inst) {
		return history.ErrStaleInstance
	}
	s.instances[inst.InstanceID] = *inst
	s.writes++
	return nil
}

func (s *memStore) Purge(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWith != nil {
		return s.failWith
	}
	inst, ok := s.instances[id]
	if !ok {
		return history.ErrInstanceNotFound
	}
	if !inst.Status.Terminal() {
		return history.ErrNotTerminal
	}
	delete(s.instances, id)
	delete(s.episodes, id)
	s.writes++
	return nil
}

func (s *memStore) LoadHistory(ctx context.Context, id, exec string) ([]history.Episode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWith != nil {
		return nil, s.failWith
	}
	var out []history.Episode
	for _, ep := range s.episodes[id] {
		if ep.ExecutionID == exec {
			out = append(out, ep)
		}
	}
	return out, nil
}

func (s *memStore) UpdateInstances(ctx context.Context, docs []*history.Instance) []error {
	errs := make([]error, len(docs))
	for i, inst := range docs {
		errs[i] = s.UpdateInstance(ctx, inst)
	}
	return errs
}

func (s *memStore) GetInstances(ctx context.Context, ids []string) (map[string]*history.Instance, error) {
	out := map[string]*history.Instance{}
	for _, id := range ids {
		if inst, err := s.GetInstance(ctx, id); err == nil {
			out[id] = inst
		}
	}
	return out, nil
}

func (s *memStore) LoadHistories(ctx context.Context, refs []history.ExecutionRef) (map[history.ExecutionRef][]history.Episode, error) {
	out := map[history.ExecutionRef][]history.Episode{}
	for _, r := range refs {
		if eps, _ := s.LoadHistory(ctx, r.InstanceID, r.ExecutionID); len(eps) > 0 {
			out[r] = eps
		}
	}
	return out, nil
}

// CommitEpisodes keeps each episode unless its number is taken in its execution.
func (s *memStore) CommitEpisodes(ctx context.Context, eps []*history.Episode) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := make([]error, len(eps))
	for i, ep := range eps {
		if s.failWith != nil {
			errs[i] = s.failWith
			continue
		}
		for _, had := range s.episodes[ep.InstanceID] {
			if had.ExecutionID == ep.ExecutionID && had.Number == ep.Number {
				errs[i] = history.ErrEpisodeConflict
			}
		}
		if errs[i] == nil {
			s.episodes[ep.InstanceID] = append(s.episodes[ep.InstanceID], *ep)
			s.writes++
		}
	}
	return errs
}

func (s *memStore) Heartbeat(ctx context.Context, w history.WorkerInfo) error { return nil }
func (s *memStore) RemoveWorker(ctx context.Context, id string) error         { return nil }

func (s *memStore) LiveWorkers(ctx context.Context, maxAge time.Duration) ([]history.WorkerInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWith != nil {
		return nil, s.failWith
	}
	return append([]history.WorkerInfo(nil), s.workers...), nil
}

func (s *memStore) count() (instances, writes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.instances), s.writes
}

// fakeBroker records what was published, per queue.
type fakeBroker struct {
	mu   sync.Mutex
	sent map[string][]queues.Message
	fail error
	// script, when set, is the outcome of the next calls, one each, before fail applies;
	// a nil entry is a confirmed publish.
	script []error
	// attempts lists every message Publish was given, confirmed or not.
	attempts []queues.Message
	// onPublish, when set, runs at each call (outside the lock), before its outcome.
	onPublish func(attempt int)
}

func newFakeBroker() *fakeBroker { return &fakeBroker{sent: map[string][]queues.Message{}} }

func (b *fakeBroker) Publish(ctx context.Context, queue string, msgs ...queues.Message) error {
	b.mu.Lock()
	b.attempts = append(b.attempts, msgs...)
	n, hook := len(b.attempts), b.onPublish
	b.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.script) > 0 {
		err := b.script[0]
		b.script = b.script[1:]
		if err != nil {
			return err
		}
	} else if b.fail != nil {
		return b.fail
	}
	b.sent[queue] = append(b.sent[queue], msgs...)
	return nil
}

func (b *fakeBroker) total() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, m := range b.sent {
		n += len(m)
	}
	return n
}

var errDown = errors.New("connection refused")

// unconfirmed and unroutable are what queues.Conn.Publish returns for one message that the
// broker did not confirm (it may be queued) and one that it returned (it is not).
func unconfirmed(id string) error {
	return &queues.PublishError{Queue: "q", Unconfirmed: []int{0}, IDs: []string{id}, Err: errors.New("channel closed")}
}

func unroutable(id string) error {
	return &queues.PublishError{Queue: "q", Unroutable: []int{0}, IDs: []string{id}}
}

func (s *memStore) CreateInstances(ctx context.Context, insts []*history.Instance) []error {
	errs := make([]error, len(insts))
	for i, inst := range insts {
		errs[i] = s.CreateInstance(ctx, inst)
	}
	return errs
}

// The dispatcher's tests keep no large payloads.
func (s *memStore) PutPayloads(ctx context.Context, ps []history.Payload) error { return nil }

func (s *memStore) GetPayloads(ctx context.Context, refs []history.PayloadRef) (map[history.PayloadRef][]byte, error) {
	if len(refs) > 0 {
		return nil, history.ErrPayloadNotFound
	}
	return map[history.PayloadRef][]byte{}, nil
}
