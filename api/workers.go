package api

import (
	"time"

	"github.com/warrenhq/warren/history"
)

// Worker is one live worker and the partitions it owns by rendezvous hashing.
type Worker struct {
	WorkerID      string    `json:"workerId"`
	Host          string    `json:"host"`
	Orchestrators []string  `json:"orchestrators"`
	Activities    []string  `json:"activities"`
	HeartbeatAt   time.Time `json:"heartbeatAt"`
	StartedAt     time.Time `json:"startedAt"`
	Partitions    []int     `json:"partitions"`
	// ActivityConcurrency is how many activities the worker runs at once (0: not said).
	ActivityConcurrency int `json:"activityConcurrency,omitempty"`
	// StoreOps are the commands the worker's store has sent since it started, as of its
	// last heartbeat, when its store counts them.
	StoreOps *history.OpCounts `json:"storeOps,omitempty"`
}

// WorkersResponse is the answer to GET /v1/workers.
type WorkersResponse struct {
	Partitions int      `json:"partitions"`
	Workers    []Worker `json:"workers"`
}

// Stats is the answer to GET /v1/stats: what a benchmark reads of the dispatcher that
// answers. StoreOps is absent when the dispatcher's store does not count its commands.
type Stats struct {
	Hub       string            `json:"hub"`
	PID       int               `json:"pid"`
	StartedAt time.Time         `json:"startedAt"` // the process's start
	StoreOps  *history.OpCounts `json:"storeOps,omitempty"`
}
