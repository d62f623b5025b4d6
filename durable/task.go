package durable

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Task is the pending result of an activity, sub-orchestration, timer or external event.
// Await blocks the orchestrator until the task is done, then decodes its result into out
// (a pointer, or nil to discard it) and returns its error. Await must be called from the
// orchestrator's own goroutine, never from one it started.
type Task interface {
	Await(out any) error
	// Done reports whether the task has finished; it never blocks.
	Done() bool
	base() *task
}

// task is the one implementation of Task. It completes exactly once; the callbacks in then
// let WhenAll and WhenAny follow their parts.
type task struct {
	ep     *episode
	done   bool
	result json.RawMessage
	err    error
	then   []func()
}

func (t *task) base() *task { return t }

func (t *task) Done() bool { return t.done }

func (t *task) Await(out any) error {
	if !t.done {
		t.ep.block(t)
	}
	if t.err != nil {
		return t.err
	}
	if out != nil && len(t.result) > 0 {
		if err := json.Unmarshal(t.result, out); err != nil {
			return fmt.Errorf("decoding a task result into %T: %w", out, err)
		}
	}
	return nil
}

func (t *task) complete(result json.RawMessage, err error) {
	if t.done {
		return
	}
	t.done, t.result, t.err = true, result, err
	then := t.then
	t.then = nil
	for _, f := range then {
		f()
	}
}

func (t *task) onDone(f func()) {
	if t.done {
		f()
		return
	}
	t.then = append(t.then, f)
}

func doneTask(ep *episode, result json.RawMessage, err error) *task {
	return &task{ep: ep, done: true, result: result, err: err}
}

// WhenAll returns a task that finishes when every one of tasks has finished. Its result is
// the JSON array of their results, in order (so Await(&[]T) collects them); its error is the
// error of the first failed task in order, if any.
func WhenAll(tasks ...Task) Task {
	if len(tasks) == 0 {
		return doneTask(nil, json.RawMessage("[]"), nil)
	}
	all := &task{ep: tasks[0].base().ep}
	remaining := len(tasks)
	finish := func() {
		var firstErr error
		buf := make([]byte, 0, 2+8*len(tasks))
		buf = append(buf, '[')
		for i, t := range tasks {
			b := t.base()
			if i > 0 {
				buf = append(buf, ',')
			}
			if len(b.result) == 0 {
				buf = append(buf, "null"...)
			} else {
				buf = append(buf, b.result...)
			}
			if b.err != nil && firstErr == nil {
				firstErr = b.err
			}
		}
		buf = append(buf, ']')
		if firstErr != nil {
			all.complete(nil, firstErr)
			return
		}
		all.complete(buf, nil)
	}
	for _, t := range tasks {
		t.base().onDone(func() {
			remaining--
			if remaining == 0 {
				finish()
			}
		})
	}
	return all
}

// AnyTask is the task WhenAny returns.
type AnyTask interface {
	Task
	// Winner is the task that finished first (nil until one has).
	Winner() Task
}

type anyTask struct {
	*task
	winner Task
}

func (a *anyTask) Winner() Task { return a.winner }

// WhenAny returns a task that finishes as soon as one of tasks has finished (the first in
// order, if several are done already). Its result is the index of that task (Await(&i)
// with i an int) and Winner returns the task itself; it never fails by itself: await the
// winner to get its result or error. A losing timer still fires later, into history, unless
// it is cancelled (TimerTask.Cancel).
func WhenAny(tasks ...Task) AnyTask {
	if len(tasks) == 0 {
		return &anyTask{task: doneTask(nil, nil, fmt.Errorf("WhenAny of no tasks"))}
	}
	a := &anyTask{task: &task{ep: tasks[0].base().ep}}
	for i, t := range tasks {
		t.base().onDone(func() {
			if a.done {
				return
			}
			a.winner = t
			a.complete(json.RawMessage(strconv.Itoa(i)), nil)
		})
	}
	return a
}
