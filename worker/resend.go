package worker

import (
	"encoding/json"
	"slices"

	"github.com/warrenhq/warren/history"
)

// resendFrom is what a redelivered input of episode n publishes again: n's outbox, and the
// outboxes of the chained episodes after it. A chained episode consumed the result of an
// activity its worker ran in place (eager.go), so no message in the broker stands behind its
// inputs: if that worker died, the redelivered input of the episode that began the chain is
// the only thing left to send them again. Work items of tasks whose outcome history already
// holds are left out — running them again would only repeat work whose result is in — and
// so are tasks settled in the same way by this resend's episodes. It returns the messages
// and the episodes they came from.
func (s *instanceState) resendFrom(n int64) ([]history.OutboxMessage, []int64) {
	episodes := []int64{n}
	for k := range s.chained {
		if k > n {
			episodes = append(episodes, k)
		}
	}
	slices.Sort(episodes)
	done := s.settledTasks()
	var out []history.OutboxMessage
	for _, k := range episodes {
		for _, m := range s.outboxes[k] {
			if m.Kind == history.MessageKindActivity && done[activityTask(m)] {
				continue
			}
			out = append(out, m)
		}
	}

	return out, episodes
}

// settledTasks are the tasks of the execution whose activity outcome history holds.
func (s *instanceState) settledTasks() map[int64]bool {
	done := map[int64]bool{}
	for _, ev := range s.past {
		if ev.Kind == history.TaskCompleted || ev.Kind == history.TaskFailed {
			done[ev.TaskID] = true
		}
	}
	return done
}

// activityTask is the task id a work item runs; -1 when its body does not say (it is then
// sent again like any other message).
func activityTask(m history.OutboxMessage) int64 {
	var req struct {
		TaskID *int64 `json:"taskId"`
	}
	if json.Unmarshal(m.Body, &req) != nil || req.TaskID == nil {
		return -1
	}
	return *req.TaskID
}
