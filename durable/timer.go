package durable

import "github.com/warrenhq/warren/history"

// TimerTask is the task of a durable timer (CreateTimer), which can be cancelled.
type TimerTask interface {
	Task
	// Cancel gives up the timer unless it has fired: the task fails with ErrCanceled, and
	// the timer's firing, when it comes, is left out of history. A timer cancelled in the
	// episode that created it is never sent at all. Cancel is recorded nowhere: replay
	// cancels it again at the same point of the code.
	Cancel()
}

type timerTask struct {
	*task
	id int64
}

func (t *timerTask) Cancel() {
	ep := t.ep
	if t.done || ep.ended() {
		return
	}
	delete(ep.open, t.id)
	unsent := false
	for i := ep.pendingHead; i < len(ep.pending); i++ {
		if p := &ep.pending[i]; p.ev.Kind == history.TimerCreated && p.ev.TaskID == t.id {
			// Not matched with history yet: created in this very episode (in replay too, as
			// every call of an earlier episode is matched before the next episode's code
			// runs), so the timer is dropped before it is recorded or sent.
			ep.pending = append(ep.pending[:i], ep.pending[i+1:]...)
			unsent = true
			break
		}
	}
	if !unsent && !ep.replaying {
		ep.res.CanceledTimers = append(ep.res.CanceledTimers, t.id)
	}
	t.complete(nil, ErrCanceled)
}
