package durable

import "github.com/warrenhq/warren/history"

// IsPatched reports whether this execution takes the new branch of the change called id,
// so that an orchestrator can change while instances of it are running:
//
//	if ctx.IsPatched("greet-in-french") {
//		err = ctx.CallActivity("Bonjour", name).Await(&out)
//	} else {
//		err = ctx.CallActivity("Hello", name).Await(&out)
//	}
//
// Reached outside replay (a new instance, or a running one whose execution gets there
// after the deploy) it records a PatchMarker event in history and returns true. Replaying
// a history, it returns true if the history holds the marker, and false if the history
// passed this point without it (an instance that got here under the old code keeps the
// old branch). The first call for an id decides for the whole execution; later calls
// return the same answer and record nothing.
//
// Once no instance that ran the old branch is left, remove the old branch and replace
// IsPatched by DeprecatePatch(id): histories recorded with the marker keep replaying. A
// marker the code no longer asks for, with neither call, is a *NonDeterminismError.
func (c *OrchestrationContext) IsPatched(id string) bool {
	ep := c.ep
	if patched, ok := ep.patches[id]; ok {
		return patched
	}
	patched := !ep.replaying || ep.recordedPatches[id]
	ep.patches[id] = patched
	if patched {
		ep.schedule(history.Event{Kind: history.PatchMarker, Name: id}, Action{})
	}
	return patched
}

// DeprecatePatch stands where IsPatched(id) stood once the old branch is gone: it accepts
// the marker of histories that recorded one and records nothing in new executions.
func (c *OrchestrationContext) DeprecatePatch(id string) {
	ep := c.ep
	if _, ok := ep.patches[id]; ok {
		return
	}
	ep.patches[id] = true
	if ep.replaying && ep.recordedPatches[id] {
		ep.schedule(history.Event{Kind: history.PatchMarker, Name: id}, Action{})
	}
}

// notePatches remembers which patch markers past holds.
func (ep *episode) notePatches(past []history.Event) {
	for i := range past {
		if past[i].Kind == history.PatchMarker {
			ep.recordedPatches[past[i].Name] = true
		}
	}
}
