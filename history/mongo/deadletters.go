package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	mongodrv "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/internal/record"
)

// deadLettersCollection holds the dead letters the dispatcher moved out of the dead-letter
// queue (history.DeadLetterStore).
const deadLettersCollection = "deadletters"

func (s *Store) deadLetters() *mongodrv.Collection { return s.db.Collection(deadLettersCollection) }

// PutDeadLetter keeps d, replacing a record with the same ID.
func (s *Store) PutDeadLetter(ctx context.Context, d history.DeadLetter) error {
	if err := checkID("dead letter id", d.ID); err != nil {
		return fmt.Errorf("put dead letter: %w", err)
	}
	doc, err := bson.Marshal(d)
	if err == nil {
		err = checkDocument(fmt.Sprintf("dead letter %q", d.ID), doc, 0)
	}
	if err != nil {
		return fmt.Errorf("put dead letter: %w", err)
	}
	_, err = s.deadLetters().ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, doc, options.Replace().SetUpsert(true))
	if err != nil {
		return writeError(fmt.Sprintf("put dead letter %q", d.ID), err)
	}
	return nil
}

// ListDeadLetters returns up to limit dead letters, oldest first, and the next page's cursor.
func (s *Store) ListDeadLetters(ctx context.Context, limit int, cursor string) ([]history.DeadLetter, string, error) {
	if limit < 1 || limit > maxPageSize {
		return nil, "", fmt.Errorf("list dead letters: %w: limit %d is outside 1..%d", ErrInvalidArgument, limit, maxPageSize)
	}
	filter := bson.D{}
	if cursor != "" {
		c, err := record.DecodeCursor(cursor)
		if err != nil {
			return nil, "", fmt.Errorf("list dead letters: %w", err)
		}
		filter = c.Query("deadAt")
	}
	opts := options.Find().SetSort(bson.D{{Key: "deadAt", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit) + 1)
	cur, err := s.deadLetters().Find(ctx, filter, opts)
	if err != nil {
		return nil, "", fmt.Errorf("list dead letters: %w", err)
	}
	page := make([]history.DeadLetter, 0, limit+1)
	if err := cur.All(ctx, &page); err != nil {
		return nil, "", fmt.Errorf("list dead letters: %w", err)
	}
	page, next := record.Page(page, limit, func(d history.DeadLetter) (time.Time, string) { return d.DeadAt, d.ID })
	return page, next, nil
}

// GetDeadLetter returns one dead letter.
func (s *Store) GetDeadLetter(ctx context.Context, id string) (*history.DeadLetter, error) {
	if err := checkID("dead letter id", id); err != nil {
		return nil, fmt.Errorf("get dead letter: %w", err)
	}
	var d history.DeadLetter
	err := s.deadLetters().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongodrv.ErrNoDocuments) {
		return nil, fmt.Errorf("get dead letter %q: %w", id, history.ErrDeadLetterNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get dead letter %q: %w", id, err)
	}
	return &d, nil
}

// DeleteDeadLetter removes one dead letter if it is still the one kept at deadAt.
func (s *Store) DeleteDeadLetter(ctx context.Context, id string, deadAt time.Time) error {
	if err := checkID("dead letter id", id); err != nil {
		return fmt.Errorf("delete dead letter: %w", err)
	}
	res, err := s.deadLetters().DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "deadAt", Value: deadAt.UTC().Truncate(time.Millisecond)}})
	if err != nil {
		return writeError(fmt.Sprintf("delete dead letter %q", id), err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("delete dead letter %q: %w", id, history.ErrDeadLetterNotFound)
	}
	return nil
}
