package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	mongodrv "go.mongodb.org/mongo-driver/mongo"

	"github.com/warrenhq/warren/history"
)

// MaxPartitions is the largest partition count a hub may have (DESIGN section 11).
const MaxPartitions = 1024

// hubSettingsID is the _id of the hub's one settings document.
const hubSettingsID = "settings"

type hubSettings struct {
	ID         string    `bson:"_id"`
	Partitions int       `bson:"partitions"`
	CreatedAt  time.Time `bson:"createdAt"`
}

// EnsureHub records the partition count on first use; the first process to insert the
// settings document wins, and every later one compares against it.
func (s *Store) EnsureHub(ctx context.Context, partitions int) error {
	if partitions < 1 || partitions > MaxPartitions {
		return fmt.Errorf("ensure hub: %w: partition count %d is outside 1..%d", ErrInvalidArgument, partitions, MaxPartitions)
	}
	doc := hubSettings{ID: hubSettingsID, Partitions: partitions, CreatedAt: time.Now().UTC()}
	_, err := s.hub.InsertOne(ctx, doc)
	if err == nil {
		return nil
	}
	if !mongodrv.IsDuplicateKeyError(err) {
		return fmt.Errorf("ensure hub %q: %w", s.db.Name(), err)
	}
	var cur hubSettings
	if err := s.hub.FindOne(ctx, bson.D{{Key: "_id", Value: hubSettingsID}}).Decode(&cur); err != nil {
		if errors.Is(err, mongodrv.ErrNoDocuments) {
			// Only DropHub removes the settings; a hub dropped in between is a caller's race.
			return fmt.Errorf("ensure hub %q: settings vanished after a duplicate-key insert: %w", s.db.Name(), err)
		}
		return fmt.Errorf("ensure hub %q: read settings: %w", s.db.Name(), err)
	}
	if cur.Partitions != partitions {
		return fmt.Errorf("%w: hub %q has %d partitions, this process was started with %d; "+
			"start it with %d partitions or use another hub",
			history.ErrPartitionMismatch, s.db.Name(), cur.Partitions, partitions, cur.Partitions)
	}
	return nil
}
