package history

import (
	"context"
	"errors"
	"time"
)

// ErrDeadLetterNotFound is returned for a dead letter the store does not hold.
var ErrDeadLetterNotFound = errors.New("history: dead letter not found")

// DeadLetter is a message that was given up on, as the dispatcher moved it out of the
// hub's dead-letter queue (AMQP cannot list a queue) so that it can be listed and redriven:
// everything needed to publish it again where it came from, and why it was given up.
type DeadLetter struct {
	// ID is the record's id: the message id and where and why it died, so that taking the
	// same dead letter twice (a redelivery of the dead-letter queue) keeps one record.
	ID          string    `json:"id" bson:"_id"`
	MessageID   string    `json:"messageId" bson:"messageId"`
	Kind        string    `json:"kind" bson:"kind"`
	InstanceID  string    `json:"instanceId,omitempty" bson:"instanceId,omitempty"`
	Reason      string    `json:"reason" bson:"reason"`
	SourceQueue string    `json:"sourceQueue" bson:"sourceQueue"`
	Body        []byte    `json:"body" bson:"body"`
	TraceParent string    `json:"traceparent,omitempty" bson:"traceparent,omitempty"`
	TraceState  string    `json:"tracestate,omitempty" bson:"tracestate,omitempty"`
	PublishedAt time.Time `json:"publishedAt" bson:"publishedAt"`
	// DeadAt is when the dispatcher took it from the dead-letter queue.
	DeadAt time.Time `json:"deadAt" bson:"deadAt"`
	// Truncated says that Body is only the start of the message's body (the whole did not
	// fit in one record); such a dead letter cannot be redriven.
	Truncated bool `json:"truncated,omitempty" bson:"truncated,omitempty"`
}

// DeadLetterStore keeps dead letters. It is not part of [Store]: the dispatcher uses it
// when its store implements it (history/mongo and history/memstore do).
type DeadLetterStore interface {
	// PutDeadLetter keeps d, replacing a record with the same ID.
	PutDeadLetter(ctx context.Context, d DeadLetter) error
	// ListDeadLetters returns up to limit records (1..1000), oldest first, and the cursor of
	// the next page ("" after the last).
	ListDeadLetters(ctx context.Context, limit int, cursor string) ([]DeadLetter, string, error)
	// GetDeadLetter returns one record, or ErrDeadLetterNotFound.
	GetDeadLetter(ctx context.Context, id string) (*DeadLetter, error)
	// DeleteDeadLetter removes the record id if it is still the one kept at deadAt (to the
	// millisecond): a redrive forgets what it sent, not the record of the same message
	// dying again meanwhile. ErrDeadLetterNotFound when there is no such record.
	DeleteDeadLetter(ctx context.Context, id string, deadAt time.Time) error
}
