package worker

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/logging"
	"github.com/warrenhq/warren/internal/pause"
	"github.com/warrenhq/warren/queues"
)

// The instance document is a read model of the committed history (docs/design.md section
// 4): a committed episode is the durable effect that precedes the acks, and the document
// readers see follows it, written by docWriter in batches off the critical path. A worker
// that dies with documents owed leaves them behind their history; the next owner of the
// partition repairs them when it takes it (warmPartitions).

// maxAnnouncedDoc bounds the document an ended announcement carries; a larger one (a big
// output) is announced without it, once it is written.
const maxAnnouncedDoc = 64 << 10

// maxDocsPerWrite bounds one UpdateInstances call, which has an OpTimeout of its own: a
// backlog is written a part at a time, each part done or given back on its own. When the
// whole backlog shared one OpTimeout, a backlog of a few thousand documents (10,000
// instances submitted at once on FerretDB, where each keyed update costs milliseconds)
// could never be written in time: every flush timed out, gave everything back, and the
// next began again from the start.
const maxDocsPerWrite = 100

// owedDoc is a document version the store has not taken yet.
type owedDoc struct {
	doc   history.Instance
	since time.Time // when the first version still owed was queued
	// announce: the execution has ended and its waiters have not been told with its document.
	announce bool
	// check: read the document back after writing it and compare it with its history
	// (checkDocs), because another worker may be writing it at the same time.
	check bool
}

// docWriter holds the newest document version owed for each instance.
type docWriter struct {
	mu   sync.Mutex
	owed map[string]*owedDoc
}

func newDocWriter() *docWriter { return &docWriter{owed: map[string]*owedDoc{}} }

// owe queues doc, unless a newer version is owed already.
func (dw *docWriter) owe(doc history.Instance, now time.Time, announce bool) {
	dw.put(doc, now, announce, false)
}

// oweRepair queues doc, rebuilt from a history read, to be checked once written: the
// partition's previous owner may still be writing the document, and a repair is older
// than what it writes.
func (dw *docWriter) oweRepair(doc history.Instance, now time.Time) {
	dw.put(doc, now, doc.Status.Terminal(), true)
}

// put queues doc, unless a newer version is owed already, merging what is to be done.
func (dw *docWriter) put(doc history.Instance, now time.Time, announce, check bool) {
	dw.mu.Lock()
	defer dw.mu.Unlock()
	if o, ok := dw.owed[doc.InstanceID]; ok {
		if o.doc.Newer(&doc) {
			return
		}
		o.doc, o.announce, o.check = doc, o.announce || announce, o.check || check
		return
	}
	dw.owed[doc.InstanceID] = &owedDoc{doc: doc, since: now, announce: announce, check: check}
}

// forget drops what is owed for id when written is at least as new (the execution's
// document was written directly: continue-as-new).
func (dw *docWriter) forget(written *history.Instance) {
	dw.mu.Lock()
	defer dw.mu.Unlock()
	if o, ok := dw.owed[written.InstanceID]; ok && !o.doc.Newer(written) {
		delete(dw.owed, written.InstanceID)
	}
}

// len is the number of documents owed.
func (dw *docWriter) len() int {
	dw.mu.Lock()
	defer dw.mu.Unlock()
	return len(dw.owed)
}

// due takes out, in instance id order, the documents to write now: those of ended
// executions and those owed for at least lag; all of them when lag is 0.
func (dw *docWriter) due(now time.Time, lag time.Duration) []*owedDoc {
	dw.mu.Lock()
	defer dw.mu.Unlock()
	var out []*owedDoc
	for id, o := range dw.owed {
		if lag == 0 || o.doc.Status.Terminal() || o.doc.Status == history.StatusContinuedAsNew || now.Sub(o.since) >= lag {
			out = append(out, o)
			delete(dw.owed, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].doc.InstanceID < out[j].doc.InstanceID })
	return out
}

// giveBack returns a document whose write failed, unless a newer version is owed since.
func (dw *docWriter) giveBack(o *owedDoc) {
	dw.mu.Lock()
	defer dw.mu.Unlock()
	if cur, ok := dw.owed[o.doc.InstanceID]; ok {
		if !o.doc.Newer(&cur.doc) {
			cur.announce = cur.announce || o.announce
			cur.check = cur.check || o.check
			cur.since = o.since
			return
		}
	}
	dw.owed[o.doc.InstanceID] = o
}

// flushDocs writes the documents due (owed for lag, or ended) and announces the ended
// ones that were not announced with their document, maxDocsPerWrite at a time, each part
// within OpTimeout (and ctx). It reports whether the store failed; what failed stays owed,
// and so do the parts after one that failed whole, not tried.
func (w *Worker) flushDocs(ctx context.Context, lag time.Duration) (trouble bool) {
	// Documents of partitions that changed hands since are written too: the write is
	// conditional on the version, and leaving them to the new owner's repair would keep them
	// behind until its next idle sweep. Those, and repairs, are checked once written.
	batch := w.docs.due(w.now(), lag)
	var ended []history.Instance
	down := false
	for start := 0; start < len(batch); start += maxDocsPerWrite {
		part := batch[start:min(start+maxDocsPerWrite, len(batch))]
		if down || ctx.Err() != nil {
			for _, o := range part {
				w.docs.giveBack(o)
			}
			trouble = true
			continue
		}
		docs := make([]*history.Instance, len(part))
		epochs := make([]int64, len(part))
		for i, o := range part {
			docs[i] = &o.doc
			epochs[i] = w.epochOf(o.doc.InstanceID)
			o.check = o.check || !w.ownsInstance(o.doc.InstanceID)
		}
		began := time.Now()
		pctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
		errs := w.store.UpdateInstances(pctx, docs)
		cancel()
		took := time.Since(began)
		var written []*owedDoc
		failed, firstErr := 0, error(nil)
		for i, err := range errs {
			o := part[i]
			switch {
			case err == nil:
				if o.announce {
					ended = append(ended, o.doc)
				}
				if o.check || w.epochOf(o.doc.InstanceID) != epochs[i] {
					written = append(written, o) // the partition changed hands during the write
				}
			case errors.Is(err, history.ErrStaleInstance):
				// Another writer has moved the document on; unless this worker has too, its
				// state is out of date.
				if st := w.cache.peek(o.doc.InstanceID); st == nil || !st.inst.Newer(&o.doc) {
					w.cache.drop(o.doc.InstanceID)
				}
			case errors.Is(err, history.ErrInstanceNotFound), permanent(err):
				w.log.Warn("instance document not written", logging.InstanceTrace(o.doc.InstanceID, o.doc.TraceID, "err", err)...)
			default:
				if failed++; failed == 1 {
					firstErr = err
				}
				w.docs.giveBack(o)
				trouble = true
			}
		}
		if failed > 0 {
			// One line for the part: a store that times out fails all of it alike.
			w.metrics.storeError("update_instances")
			w.log.Warn("writing instance documents failed; will try again", "failed", failed, "of", len(part), "err", firstErr)
		}
		// A part that failed whole says the store is failing: the rest wait for the next
		// flush. One that failed in part goes on, so that a document the store keeps
		// refusing for a while cannot hold back the documents after it.
		down = failed == len(part)
		if len(written) > 0 && w.checkDocs(ctx, written, took) {
			trouble = true
		}
	}
	actx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	w.announce(actx, ended, false)
	cancel()
	return trouble
}

// announce tells the dispatchers' waiters that these instances have ended, with their
// documents (withDoc) when small enough. A lost notice costs a waiter only time: it also
// reads the store now and then.
func (w *Worker) announce(ctx context.Context, docs []history.Instance, withDoc bool) {
	if len(docs) == 0 {
		return
	}
	notices := make([]queues.Message, len(docs))
	for i := range docs {
		notices[i] = queues.Message{ID: docs[i].InstanceID + "/ended/" + randomHex(4), Kind: history.MessageKindEnded, InstanceID: docs[i].InstanceID}
		if withDoc {
			notices[i].Body, _ = json.Marshal(&docs[i])
		}
	}
	if err := w.broker.Announce(ctx, notices...); err != nil {
		w.metrics.brokerError("announce")
		w.log.Debug("announcing ended instances failed", "err", err)
	}
}

// docLoop writes the documents owed every DocLag/10 until ctx ends, backing off while the
// store fails.
func (w *Worker) docLoop(ctx context.Context) {
	every := max(w.cfg.DocLag/10, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if wait > 0 {
			if pause.For(ctx, wait) != nil {
				return
			}
		}
		trouble := w.flushDocs(ctx, w.cfg.DocLag)
		if trouble {
			wait = min(max(2*wait, 100*time.Millisecond), 5*time.Second)
		} else {
			wait = 0
		}
	}
}
