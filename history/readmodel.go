package history

import "time"

// The instance document is a read model of the committed history: workers write it after
// the episodes it reflects are committed, batched and coalesced, so it may lag them. A
// decision that depends on an instance's status (a purge, a restart, a second start) reads
// the history where the two may differ, through [Reconcile].

// StatusAfter is an execution's status once ev is applied to an execution in status s.
func StatusAfter(s Status, ev Event) Status {
	switch ev.Kind {
	case ExecutionStarted, ExecutionResumed:
		return StatusRunning
	case ExecutionSuspended:
		return StatusSuspended
	case ExecutionCompleted:
		return StatusCompleted
	case ExecutionFailed:
		return StatusFailed
	case ExecutionTerminated:
		return StatusTerminated
	case ContinuedAsNew:
		return StatusContinuedAsNew
	}
	return s
}

// Reconcile returns doc as the committed episodes of its execution (eps, in order) say it
// should be (see [ReconcileEvents]), stamped with the last episode's commit time. It
// returns doc itself when the document is not behind them.
func Reconcile(doc *Instance, eps []Episode) *Instance {
	if len(eps) == 0 {
		return doc
	}
	var events []Event
	for i := range eps {
		events = append(events, eps[i].Events...)
	}
	last := eps[len(eps)-1]
	return ReconcileEvents(doc, events, last.Number, last.CommittedAt)
}

// ReconcileEvents returns doc as the events of its execution so far (all of them, in
// order, up to episode lastEpisode) say it should be: their status and last episode and,
// for an ended execution, its output or failure; at, when set, is the last update time.
// It returns doc itself when the document already shows lastEpisode. The custom status is
// not in the history: it catches up with the execution's next episode.
func ReconcileEvents(doc *Instance, events []Event, lastEpisode int64, at time.Time) *Instance {
	if doc.LastEpisode >= lastEpisode {
		return doc
	}
	out := *doc
	for _, ev := range events {
		out.Status = StatusAfter(out.Status, ev)
		switch ev.Kind {
		case ExecutionCompleted:
			out.Output = ev.Result
		case ExecutionFailed:
			out.Failure = ev.Failure
		case ExecutionTerminated:
			out.Failure = &Failure{Type: "Terminated", Message: ev.Reason}
		}
	}
	out.LastEpisode = lastEpisode
	if !at.IsZero() {
		out.LastUpdatedAt = at
	}
	return &out
}

// ReadModel is the part of an instance document that workers keep up to date as episodes
// commit ([Store.UpdateInstances]); the rest is written when the execution begins.
type ReadModel struct {
	ExecutionID   string    `bson:"executionId"`
	Status        Status    `bson:"status"`
	Output        []byte    `bson:"output,omitempty"`
	Failure       *Failure  `bson:"failure,omitempty"`
	CustomStatus  []byte    `bson:"customStatus,omitempty"`
	LastUpdatedAt time.Time `bson:"lastUpdatedAt"`
	LastEpisode   int64     `bson:"lastEpisode"`
	Executions    int64     `bson:"executions,omitempty"`
}

// ReadModel returns the read-model fields of inst.
func (inst *Instance) ReadModel() ReadModel {
	return ReadModel{ExecutionID: inst.ExecutionID, Status: inst.Status, Output: inst.Output,
		Failure: inst.Failure, CustomStatus: inst.CustomStatus, LastUpdatedAt: inst.LastUpdatedAt,
		LastEpisode: inst.LastEpisode, Executions: inst.Executions}
}

// SetReadModel overwrites the read-model fields of inst with m.
func (inst *Instance) SetReadModel(m ReadModel) {
	inst.ExecutionID, inst.Status, inst.Output, inst.Failure = m.ExecutionID, m.Status, m.Output, m.Failure
	inst.CustomStatus, inst.LastUpdatedAt, inst.LastEpisode, inst.Executions = m.CustomStatus, m.LastUpdatedAt, m.LastEpisode, m.Executions
}
