package mongo

import (
	"context"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/event"

	"github.com/warrenhq/warren/history"
)

// opCounters count the commands this Store sends, by kind, through the driver's command
// monitor: a round trip when a command is sent, its documents when the reply comes back
// (inserted, returned, matched or deleted, as the reply says). Benchmarks read them
// through [Store.Ops] to show what an orchestration costs the store.
type opCounters struct {
	kinds [numOpKinds]struct{ calls, docs atomic.Int64 }
}

type opKind int

const (
	opInsert opKind = iota
	opFind
	opUpdate
	opDelete
	opOther
	numOpKinds
)

// kindOf sorts a command by its name; a getMore counts as a find whatever opened its cursor.
func kindOf(command string) opKind {
	switch command {
	case "insert":
		return opInsert
	case "find", "getMore":
		return opFind
	case "update", "findAndModify":
		return opUpdate
	case "delete":
		return opDelete
	}
	return opOther
}

// docsIn reads how many documents a reply carried or says it touched: the cursor's batch
// for find, getMore and aggregate, lastErrorObject.n for findAndModify, n otherwise
// (inserted, matched, deleted, or a count's result).
func docsIn(command string, reply bson.Raw) int64 {
	switch command {
	case "find", "aggregate":
		return arrayLen(reply, "cursor", "firstBatch")
	case "getMore":
		return arrayLen(reply, "cursor", "nextBatch")
	case "findAndModify":
		return number(reply, "lastErrorObject", "n")
	case "insert", "update", "delete", "count":
		return number(reply, "n")
	}
	return 0
}

func arrayLen(doc bson.Raw, path ...string) int64 {
	v, err := doc.LookupErr(path...)
	if err != nil {
		return 0
	}
	arr, ok := v.ArrayOK()
	if !ok {
		return 0
	}
	vals, err := arr.Values()
	if err != nil {
		return 0
	}
	return int64(len(vals))
}

func number(doc bson.Raw, path ...string) int64 {
	v, err := doc.LookupErr(path...)
	if err != nil {
		return 0
	}
	if n, ok := v.AsInt64OK(); ok {
		return n
	}
	return 0
}

func (c *opCounters) started(command string) { c.kinds[kindOf(command)].calls.Add(1) }

func (c *opCounters) succeeded(command string, reply bson.Raw) {
	if n := docsIn(command, reply); n > 0 {
		c.kinds[kindOf(command)].docs.Add(n)
	}
}

// monitor is the driver's hook into c.
func (c *opCounters) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) { c.started(e.CommandName) },
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			c.succeeded(e.CommandName, e.Reply)
		},
	}
}

func (c *opCounters) snapshot() history.OpCounts {
	get := func(k opKind) history.OpCount {
		return history.OpCount{Calls: c.kinds[k].calls.Load(), Docs: c.kinds[k].docs.Load()}
	}
	return history.OpCounts{
		Insert: get(opInsert),
		Find:   get(opFind),
		Update: get(opUpdate),
		Delete: get(opDelete),
		Other:  get(opOther),
	}
}

// Ops returns the commands this Store has sent since it opened, by kind: round trips and
// documents. Subtract two snapshots ([history.OpCounts.Sub]) for what happened between.
func (s *Store) Ops() history.OpCounts { return s.ops.snapshot() }
