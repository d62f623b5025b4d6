package tracing

import (
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/history"
)

// ExportEpisode records the spans that one committed episode of instanceID ended: a timer or
// event span for each wait in finished, and, when status says the execution is over
// (Completed, Failed, Terminated or ContinuedAsNew), the orchestration span of the execution
// that began with started. end is the episode's time; failure is the execution's failure.
//
// Call it once per committed episode, with only what that episode's new part ended (the
// executor's Result.Finished): replayed history is never exported again, so an orchestration
// whose episodes ran on many workers, each exporting through its own tracer, still has one
// span of each. It records nothing when started carries no orchestration span id (an
// instance created without tracing).
func ExportEpisode(tracer trace.Tracer, instanceID string, started history.Event, finished []Wait, status history.Status, failure *history.Failure, end time.Time) {
	parent := OrchestrationSpanContext(started)
	if tracer == nil || !parent.IsValid() {
		return
	}
	for _, w := range finished {
		ExportWait(tracer, parent, instanceID, started.ExecutionID, w)
	}
	if status.Terminal() || status == history.StatusContinuedAsNew {
		ExportOrchestration(tracer, instanceID, started, end, status, failure)
	}
}
