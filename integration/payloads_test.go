package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/examples/payloads"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/testenv"
)

// An orchestration whose activity takes and returns 5 MB runs on a real fleet: the output
// is the activity's upper-cased text, the history read through the dispatcher holds the
// 5 MB result in place, the store keeps the large values as payloads beside the history,
// and a purge leaves none of them behind.
func TestFiveMegabyteActivityThroughTheFleet(t *testing.T) {
	const size = 5 << 20
	f := fleettest.Start(t, fleettest.Options{Workers: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := client.New(f.URL)
	id := testenv.UniqueName("big")
	began := time.Now()
	if _, err := c.Start(ctx, "BigEcho", size, client.WithInstanceID(id)); err != nil {
		t.Fatal(err)
	}
	st, err := c.Wait(ctx, id, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	var got payloads.Summary
	if st.Status != "Completed" || json.Unmarshal(st.Output, &got) != nil {
		t.Fatalf("%s ended %s with %s (failure %+v)", id, st.Status, st.Output, st.Failure)
	}
	sum := sha256.Sum256([]byte(strings.ToUpper(payloads.Text(size))))
	if got.Bytes != size || got.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("output %+v, want %d bytes with SHA-256 %x", got, size, sum)
	}
	h, err := c.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var result string
	for _, ev := range h.History {
		if ev.Kind == "TaskCompleted" {
			if err := json.Unmarshal(ev.Result, &result); err != nil {
				t.Fatal(err)
			}
		}
		if ev.InputRef != nil || ev.ResultRef != nil {
			t.Fatalf("the history read through the dispatcher still refers to a payload: %+v", ev.Kind)
		}
	}
	if result != strings.ToUpper(payloads.Text(size)) {
		t.Fatalf("the history's activity result is %d bytes, want the %d-byte text", len(result), size)
	}

	mc, err := mongo.Connect(ctx, options.Client().ApplyURI(testenv.MongoURI()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mc.Disconnect(context.Background()) }()
	db := mc.Database(f.Hub)
	kept, err := db.Collection("payloads").CountDocuments(ctx, bson.D{{Key: "instanceId", Value: id}})
	if err != nil {
		t.Fatal(err)
	}
	var largest int
	cur, err := db.Collection("history").Find(ctx, bson.D{{Key: "instanceId", Value: id}})
	if err != nil {
		t.Fatal(err)
	}
	for cur.Next(ctx) {
		largest = max(largest, len(cur.Current))
	}
	if kept < 2 || largest > 1<<20 {
		t.Fatalf("%d payloads kept, largest episode %d bytes; want the input and the result beside small episodes", kept, largest)
	}
	if err := c.Purge(ctx, id); err != nil {
		t.Fatal(err)
	}
	left, err := db.Collection("payloads").CountDocuments(ctx, bson.D{{Key: "instanceId", Value: id}})
	if err != nil || left != 0 {
		t.Fatalf("%d payloads left after the purge (%v)", left, err)
	}
	t.Logf("FIGURE: payloads: a 5 MiB activity input and output through a fleet of 2 workers in %s; %d payloads kept, largest episode %d bytes; none left after the purge",
		took.Round(time.Millisecond), kept, largest)
}
