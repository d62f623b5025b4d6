package durable

import (
	"errors"
	"fmt"
	"strings"

	"github.com/warrenhq/warren/history"
)

// The errors an orchestration sees, all in one place:
//
//   - *TaskFailedError: an activity or sub-orchestration it awaited failed (after its
//     retries). It carries the failure's type, message and stack, and unwraps to the
//     failure itself (a *history.Failure, which unwraps to its cause in turn), so
//     errors.As finds a child's failure, and its child's, through the parent.
//   - ErrTimeout: WaitForExternalEvent gave up waiting (errors.Is-able).
//   - *NonDeterminismError: replay found the code asking for something other than what
//     history recorded. The executor fails the orchestration with it; the orchestrator
//     never sees it.
//
// When an orchestration or activity fails, its error crosses into history as a
// *history.Failure whose Type is the error's ErrorType() if it has such a method, else a
// name derived from its Go type ("Error" for plain errors.New/fmt.Errorf errors).

// ActivityNotRegistered is the Failure.Type (and TaskFailedError.ErrorType) of an activity
// that no live worker registers. Such a failure is NonRetriable: retrying cannot help.
const ActivityNotRegistered = "ActivityNotRegistered"

// RewindRefused is the Failure.Type of a child that could not be rewound with its parent
// (Executor.Rewind's RewindChild): it no longer exists, or belongs to another call.
const RewindRefused = "RewindRefused"

// ErrCanceled is the error of a timer the orchestrator cancelled (TimerTask.Cancel).
var ErrCanceled = errors.New("canceled")

// ErrTimeout is the error of a WaitForExternalEvent whose timeout expired first.
var ErrTimeout = errors.New("timed out")

// TaskFailedError is the error of an awaited activity or sub-orchestration that failed.
type TaskFailedError struct {
	// TaskKind is "activity" or "sub-orchestration".
	TaskKind string
	TaskName string
	TaskID   int64
	// ErrorType, Message and Stack describe the task's failure.
	ErrorType string
	Message   string
	Stack     string
	// Cause is the failure's own cause, if it has one (a failed child orchestration's
	// cause, for example); nil otherwise.
	Cause error

	failure *history.Failure // what Unwrap returns
}

func (e *TaskFailedError) Error() string {
	return fmt.Sprintf("%s %q (task %d) failed: %s: %s", e.TaskKind, e.TaskName, e.TaskID, e.ErrorType, e.Message)
}

// Is makes errors.Is(err, ErrTimeout) true for an activity attempt that ran out of its
// WithTimeout.
func (e *TaskFailedError) Is(target error) bool {
	return target == ErrTimeout && e.ErrorType == timeoutType
}

// timeoutType is the Failure.Type of a timeout (ErrTimeout's, an activity's WithTimeout).
const timeoutType = "Timeout"

// Unwrap returns the task's failure as a *history.Failure (its Type and Message are
// ErrorType and Message here; its Cause is Cause), or Cause when there is none.
func (e *TaskFailedError) Unwrap() error {
	if e.failure != nil {
		return e.failure
	}
	return e.Cause
}

func newTaskFailedError(kind, name string, id int64, f *history.Failure) *TaskFailedError {
	e := &TaskFailedError{TaskKind: kind, TaskName: name, TaskID: id}
	if f == nil {
		e.ErrorType, e.Message = "Unknown", "the task failed without saying why"
		return e
	}
	e.ErrorType, e.Message, e.Stack = f.Type, f.Message, f.Stack
	e.failure = f
	if f.Cause != nil {
		e.Cause = f.Cause
	}
	return e
}

// NonDeterminismError says that replay found the orchestrator code asking for something
// other than what its history recorded: another activity, another kind of call, no call at
// all where history has one, a call or an end where history has none, or a patch marker
// (see OrchestrationContext.IsPatched) the code no longer asks for. The orchestration fails
// with it (Status Failed, the error as its Failure), because continuing would act on
// decisions that do not match the past; Executor.Replay returns it.
type NonDeterminismError struct {
	// TaskID is the task id of the recorded call that does not match (0 when the difference
	// is not about a recorded call's task).
	TaskID int64
	// Recorded is what history holds there, e.g. `activity "A"`; Requested is what the
	// code asked for, e.g. `activity "B"`, or "no call".
	Recorded  string
	Requested string
	// Event is the index, from 0, in the execution's history of the event where the two
	// part (Error prints it from 1, as `client history` numbers events).
	Event int
}

func (e *NonDeterminismError) Error() string {
	task := ""
	if e.TaskID != 0 {
		task = fmt.Sprintf(" as task %d", e.TaskID)
	}
	return fmt.Sprintf("non-deterministic orchestration at history event %d: history recorded %s%s, but the code asked for %s",
		e.Event+1, e.Recorded, task, e.Requested)
}

// ErrorType names the error in history.
func (e *NonDeterminismError) ErrorType() string { return "NonDeterminismError" }

// failureOf turns an error into the Failure that history keeps.
func failureOf(err error) *history.Failure {
	if err == nil {
		return nil
	}
	f := &history.Failure{Type: errorTypeName(err), Message: err.Error()}
	var tf *TaskFailedError
	if errors.As(err, &tf) {
		f.Cause = &history.Failure{Type: tf.ErrorType, Message: tf.Message, Stack: tf.Stack}
		var cause *history.Failure
		if errors.As(tf.Cause, &cause) {
			f.Cause.Cause = cause
		}
	}
	return f
}

func errorTypeName(err error) string {
	if t, ok := err.(interface{ ErrorType() string }); ok {
		return t.ErrorType()
	}
	var tf *TaskFailedError
	switch {
	case errors.As(err, &tf):
		return "TaskFailedError"
	case errors.Is(err, ErrTimeout):
		return "Timeout"
	}
	switch name := fmt.Sprintf("%T", err); name {
	case "*errors.errorString", "*fmt.wrapError", "*fmt.wrapErrors", "*errors.joinError":
		return "Error"
	default:
		return strings.TrimPrefix(name, "*")
	}
}
