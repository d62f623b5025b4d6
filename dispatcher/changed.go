package dispatcher

import (
	"context"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// announcer is a Broker that can announce to every listener of the hub; *queues.Conn is.
type announcer interface {
	Announce(ctx context.Context, msgs ...queues.Message) error
}

// announceChanged tells every dispatcher, this one first, that the ended instance id (""
// for many: a bulk or recursive purge) has been made something else, so that none answers
// a wait from an end it kept of it (history.MessageKindChanged). The announcement is best
// effort, like the ends' own: one lost leaves another dispatcher answering a wait with the
// end before, until it forgets it (30 s after it was announced).
func (d *Dispatcher) announceChanged(ctx context.Context, id string) {
	d.waiters.changed(id)
	a, ok := d.broker.(announcer)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.OpTimeout)
	defer cancel()
	msg := queues.Message{ID: newUUID(), Kind: history.MessageKindChanged, InstanceID: id}
	if err := a.Announce(ctx, msg); err != nil {
		d.log.Warn("announcing a changed instance failed; other dispatchers may answer a wait for it with its earlier end for up to 30 s",
			"instance", id, "err", err)
	}
}
