package memstore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/internal/record"
)

// Operation kinds of the dead-letter records (history.DeadLetterStore).
const (
	OpPutDeadLetter     = "PutDeadLetter"
	OpListDeadLetters   = "ListDeadLetters"
	OpGetDeadLetter     = "GetDeadLetter"
	OpDeleteDeadLetter  = "DeleteDeadLetter"
	maxDeadLetterListed = 1000
)

// PutDeadLetter keeps d, replacing a record with the same ID.
func (s *Store) PutDeadLetter(ctx context.Context, d history.DeadLetter) error {
	if err := checkID("dead letter id", d.ID); err != nil {
		return fmt.Errorf("memstore: put dead letter: %w", err)
	}
	if doc, err := bson.Marshal(d); err != nil {
		return fmt.Errorf("memstore: put dead letter: %w", err)
	} else if err := checkDocument(fmt.Sprintf("dead letter %q", d.ID), doc); err != nil {
		return fmt.Errorf("memstore: put dead letter: %w", err)
	}
	d.DeadAt = millis(d.DeadAt)
	d.PublishedAt = millis(d.PublishedAt)
	d.Body = append([]byte(nil), d.Body...)
	return exec(ctx, s, Op{Kind: OpPutDeadLetter}, func() error {
		if s.dead == nil {
			s.dead = map[string]history.DeadLetter{}
		}
		s.dead[d.ID] = d
		return nil
	})
}

// ListDeadLetters returns up to limit dead letters, oldest first, and the next page's cursor.
func (s *Store) ListDeadLetters(ctx context.Context, limit int, cursor string) ([]history.DeadLetter, string, error) {
	if limit < 1 || limit > maxDeadLetterListed {
		return nil, "", fmt.Errorf("memstore: list dead letters: %w: limit %d is outside 1..%d", history.ErrInvalidArgument, limit, maxDeadLetterListed)
	}
	after, err := record.ParseCursor(cursor)
	if err != nil {
		return nil, "", fmt.Errorf("memstore: list dead letters: %w", err)
	}
	type result struct {
		dls  []history.DeadLetter
		next string
	}
	p, err := run(ctx, s, Op{Kind: OpListDeadLetters}, func() (result, error) {
		sel := []history.DeadLetter{}
		for _, d := range s.dead {
			sel = append(sel, d)
		}
		dls, next := page(sel, func(d history.DeadLetter) (time.Time, string) { return d.DeadAt, d.ID }, after, limit)
		return result{dls, next}, nil
	})
	return p.dls, p.next, err
}

// GetDeadLetter returns one dead letter.
func (s *Store) GetDeadLetter(ctx context.Context, id string) (*history.DeadLetter, error) {
	return run(ctx, s, Op{Kind: OpGetDeadLetter}, func() (*history.DeadLetter, error) {
		d, ok := s.dead[id]
		if !ok {
			return nil, fmt.Errorf("memstore: get dead letter %q: %w", id, history.ErrDeadLetterNotFound)
		}
		return &d, nil
	})
}

// DeleteDeadLetter removes one dead letter if it is still the one kept at deadAt.
func (s *Store) DeleteDeadLetter(ctx context.Context, id string, deadAt time.Time) error {
	return exec(ctx, s, Op{Kind: OpDeleteDeadLetter}, func() error {
		if d, ok := s.dead[id]; !ok || !d.DeadAt.Equal(millis(deadAt)) {
			return fmt.Errorf("memstore: delete dead letter %q: %w", id, history.ErrDeadLetterNotFound)
		}
		delete(s.dead, id)
		return nil
	})
}
