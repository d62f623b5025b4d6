package mongo

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
	mongodrv "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/x/mongo/driver"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/internal/record"
)

// These run without a server.

func TestWriteErrorMapsTooLarge(t *testing.T) {
	cases := []struct {
		name     string
		err      error
		tooLarge bool
	}{
		{"driver refuses to send", driver.ErrDocumentTooLarge, true},
		{"driver error wrapped", fmt.Errorf("insert: %w", driver.ErrDocumentTooLarge), true},
		{"server BSONObjectTooLarge", mongodrv.CommandError{Code: 10334, Message: "object to insert too large"}, true},
		{"write error of an insert", mongodrv.WriteException{WriteErrors: []mongodrv.WriteError{{Code: 10334}}}, true},
		{"write error of a batch", mongodrv.BulkWriteError{WriteError: mongodrv.WriteError{Code: 17419}}, true},
		{"replacement too large", mongodrv.WriteException{WriteErrors: []mongodrv.WriteError{{Code: 17420}}}, true},
		{"duplicate key", mongodrv.WriteException{WriteErrors: []mongodrv.WriteError{{Code: 11000}}}, false},
		{"other", errors.New("connection reset"), false},
	}
	for _, tc := range cases {
		err := writeError("op", tc.err)
		if got := errors.Is(err, history.ErrTooLarge); got != tc.tooLarge {
			t.Errorf("%s: errors.Is(%v, ErrTooLarge) = %v, want %v", tc.name, err, got, tc.tooLarge)
		}
		if !strings.HasSuffix(err.Error(), tc.err.Error()) {
			t.Errorf("%s: %v does not say the driver's error", tc.name, err)
		}
	}
}

// The status part of the version filter: the statuses that do not outrank ours.
func TestStatusesNotAbove(t *testing.T) {
	cases := []struct {
		status history.Status
		want   []history.Status
	}{
		{history.StatusPending, []history.Status{history.StatusPending}},
		{history.StatusRunning, []history.Status{history.StatusPending, history.StatusRunning, history.StatusSuspended}},
		{history.StatusSuspended, []history.Status{history.StatusPending, history.StatusRunning, history.StatusSuspended}},
		{history.StatusCompleted, nil},
		{history.StatusContinuedAsNew, nil},
		{"SomethingNew", nil},
	}
	for _, tc := range cases {
		if got := statusesNotAbove(tc.status); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("statusesNotAbove(%s) = %v, want %v", tc.status, got, tc.want)
		}
	}
}

// The size limit leaves out the writer field that UpdateInstance adds, so that the verdict
// depends on the instance alone, as in history/memstore.
func TestInstanceSizeLeavesOutTheWriter(t *testing.T) {
	inst := &history.Instance{InstanceID: "i", Status: history.StatusRunning}
	plain, err := bson.Marshal(inst)
	if err != nil {
		t.Fatal(err)
	}
	inst.Input = make([]byte, record.MaxBytes-len(plain)-(1+len("input")+1+4+1)) // binary: length, subtype
	if plain, _ = bson.Marshal(inst); len(plain) != record.MaxBytes {
		t.Fatalf("setup: the instance encodes to %d bytes, want %d", len(plain), record.MaxBytes)
	}
	if _, err := encodeInstance(inst, newWriterID()); err != nil {
		t.Errorf("an instance of exactly the limit: %v", err)
	}
	inst.Input = append(inst.Input, 0)
	if _, err := encodeInstance(inst, newWriterID()); !errors.Is(err, history.ErrTooLarge) {
		t.Errorf("an instance one byte over the limit: %v, want ErrTooLarge", err)
	}
}
