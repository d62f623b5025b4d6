package sim

import (
	"context"
	"errors"
	"time"

	"github.com/warrenhq/warren/history/memstore"
	"github.com/warrenhq/warren/internal/membroker"
)

// crashPoints are the places a worker may die: each step of the episode protocol and of
// the activity loop.
var crashPoints = []string{"planned", "committed", "published", "written", "acking", "activity-ran", "result-sent"}

// errInjected is the error of an injected store failure.
var errInjected = errors.New("sim: injected store failure")

// faultActions are the faults the scheduler may inject next; each costs one of the run's
// fault budget.
func (w *world) faultActions() []action {
	live := w.live()
	var acts []action
	for _, n := range live {
		acts = append(acts,
			action{label: "crash " + n.id, weight: 1, do: func() {
				n.crashPoint = crashPoints[w.rng.IntN(len(crashPoints))]
				w.fault("%s will die at %q", n.id, n.crashPoint)
			}},
			action{label: "kill " + n.id, weight: 1, do: func() {
				w.fault("%s killed", n.id)
				w.bury(n)
				n.steps = nil
			}},
			action{label: "drop connection of " + n.id, weight: 1, do: func() {
				w.fault("%s's broker connection dropped", n.id)
				n.link.drop()
			}},
		)
		if len(live) > 1 {
			acts = append(acts, action{label: "drain " + n.id, weight: 1, do: func() {
				w.fault("%s drains and leaves", n.id)
				n.steps.Leave(context.Background())
				w.bury(n)
				n.steps = nil
			}})
		}
	}
	if len(live) < 4 {
		acts = append(acts, action{label: "join", weight: 1, do: func() {
			n := w.join()
			w.fault("%s joins (clock skew %s)", n.id, n.skew)
		}})
	}
	acts = append(acts, action{label: "store outage", weight: 1, do: func() {
		d := time.Duration(1+w.rng.IntN(90)) * time.Second
		w.outage = w.clock.Add(d)
		w.fault("the store fails every operation for %s", d)
	}})
	return acts
}

// fault records an injected fault and spends the budget.
func (w *world) fault(format string, args ...any) {
	w.faults++
	w.note(format, args...)
}

// storeFault decides the fate of each store operation: all fail during an outage, and now
// and then one fails alone, before or after it took effect (a lost reply).
func (w *world) storeFault(op memstore.Op) memstore.Fault {
	if w.clock.Before(w.outage) {
		return memstore.Fault{Err: errInjected}
	}
	if w.faults < w.budget && w.rng.IntN(200) == 0 {
		after := w.rng.IntN(2) == 0
		w.fault("store %s(%s) fails (took effect: %v)", op.Kind, op.InstanceID, after)
		return memstore.Fault{Err: errInjected, AfterEffect: after}
	}
	return memstore.Fault{}
}

// maxLostAcks bounds the acks one run loses.
const maxLostAcks = 3

// brokerFault decides the fate of each published message and of each ack: now and then a
// message is lost, its confirm is lost, or it is delivered twice; an ack is lost (more
// often: it is the cheapest fault to survive and the easiest to get wrong), and its message
// delivered again.
func (w *world) brokerFault(p membroker.FaultPoint) membroker.Fault {
	if p.Op == "ack" {
		// Lost acks have a budget of their own, so that the scheduler's faults, which spend
		// the run's early, leave room for them; each still counts as a fault.
		if w.opts.NoFaults || w.lostAcks >= maxLostAcks || w.rng.IntN(40) != 0 {
			return membroker.Fault{}
		}
		w.lostAcks++
		w.budget++
		w.fault("ack of %s on %s lost", p.MessageID, p.Queue)
		return membroker.Fault{LoseAck: true}
	}
	if w.faults >= w.budget || w.rng.IntN(150) != 0 {
		return membroker.Fault{}
	}
	switch w.rng.IntN(3) {
	case 0:
		w.fault("publish of %s to %s refused", p.MessageID, p.Queue)
		return membroker.Fault{Drop: true}
	case 1:
		w.fault("confirm of %s to %s lost", p.MessageID, p.Queue)
		return membroker.Fault{LoseConfirm: true}
	default:
		w.fault("%s to %s delivered twice", p.MessageID, p.Queue)
		return membroker.Fault{Duplicate: true}
	}
}
