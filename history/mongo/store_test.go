package mongo

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/storetest"
	"github.com/warrenhq/warren/internal/testenv"
)

// TestStore runs the store suite against the MongoDB-protocol server of the tests (FerretDB
// on the project's machines), each test on a fresh hub database.
func TestStore(t *testing.T) {
	testenv.RequireMongo(t)
	storetest.Run(t, func(t *testing.T) history.Store { return openTestStore(t) })
}

// openTestStore opens a store on a fresh hub database and drops it when the test ends.
func openTestStore(t testing.TB) *Store {
	t.Helper()
	testenv.RequireMongo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, Options{URI: testenv.MongoURI(), Hub: testenv.UniqueName("mongotest")})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.DropHub(ctx); err != nil {
			t.Errorf("drop hub: %v", err)
		}
		if err := s.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestOpenRefusesBadOptions(t *testing.T) {
	ctx := testContext(t)
	for _, opts := range []Options{
		{URI: "", Hub: "h"},
		{URI: "mongodb://127.0.0.1:27017/", Hub: ""},
		{URI: "mongodb://127.0.0.1:27017/", Hub: "a.b"},
		{URI: "mongodb://127.0.0.1:27017/", Hub: "has space"},
		{URI: "mongodb://127.0.0.1:27017/", Hub: "x123456789012345678901234567890123456789012345678901234567890123"},
		{URI: "http://user:secret@example.com/", Hub: "h"},
	} {
		s, err := Open(ctx, opts)
		if err == nil {
			s.Close(ctx)
			t.Errorf("Open(%+v) succeeded", opts)
			continue
		}
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Open(%+v) = %v, want ErrInvalidArgument", opts, err)
		}
	}
}

func TestOpenTwiceIsIdempotent(t *testing.T) {
	s := openTestStore(t)
	ctx := testContext(t)
	again, err := Open(ctx, Options{URI: testenv.MongoURI(), Hub: s.db.Name()})
	if err != nil {
		t.Fatalf("second open of the same hub: %v", err)
	}
	again.Close(ctx)
}

func TestWriteConcernMajorityOnSingleServer(t *testing.T) {
	s := openTestStore(t)
	ctx := testContext(t)
	m, err := Open(ctx, Options{URI: testenv.MongoURI(), Hub: s.db.Name(), WriteConcernMajority: true})
	if err != nil {
		t.Fatalf("open with majority: %v", err)
	}
	defer m.Close(ctx)
	errs := m.CommitEpisodes(ctx, []*history.Episode{{InstanceID: "i", ExecutionID: "e", Number: 1, CommittedAt: time.Now()}})
	if errs[0] != nil {
		t.Fatalf("commit with majority write concern: %v", errs[0])
	}
}

// Workers of a new hub start at the same moment: each one's Open creates the indexes.
func TestConcurrentOpenOfANewHub(t *testing.T) {
	testenv.RequireMongo(t)
	ctx := testContext(t)
	hub := testenv.UniqueName("mongotest")
	stores := make([]*Store, 4)
	errs := make([]error, len(stores))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			stores[i], errs[i] = Open(ctx, Options{URI: testenv.MongoURI(), Hub: hub})
		}()
	}
	close(start)
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Errorf("open %d: %v", i, errs[i])
			continue
		}
		defer s.Close(ctx)
	}
	for _, s := range stores {
		if s != nil {
			if err := s.DropHub(ctx); err != nil {
				t.Errorf("drop hub: %v", err)
			}
			break
		}
	}
}

// A server that does not answer fails Open within the selection timeout, and the error does
// not show the password of the URI.
func TestOpenUnreachableServer(t *testing.T) {
	ctx := testContext(t)
	for _, uri := range []string{"mongodb://warren:s3cret@127.0.0.1:1/", "mongodb://warren:s3cret@127.0.0.1:1/?connect=bogus"} {
		began := time.Now()
		s, err := Open(ctx, Options{URI: uri, Hub: "h", ServerSelectionTimeout: 300 * time.Millisecond})
		if err == nil {
			s.Close(ctx)
			t.Fatalf("Open(%s) succeeded", uri)
		}
		if took := time.Since(began); took > 5*time.Second {
			t.Errorf("Open(%s) took %s to fail", uri, took)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestCountInstances(t *testing.T) {
	storetest.RunCount(t, func(t *testing.T) history.Store { return openTestStore(t) })
}

func TestDeadLetters(t *testing.T) {
	storetest.RunDeadLetters(t, func(t *testing.T) history.Store { return openTestStore(t) })
}

// TestStoreWithKeyedReads runs the store suite with many instances and histories read one
// keyed query each, as on FerretDB with the PostgreSQL backend (keyed.go), whatever the
// server of the tests is.
func TestStoreWithKeyedReads(t *testing.T) {
	testenv.RequireMongo(t)
	storetest.Run(t, func(t *testing.T) history.Store {
		s := openTestStore(t)
		s.keyedReads = true
		return s
	})
}

// The store reads many keyed where the server filters plain equalities in its database:
// FerretDB says so in explain (filterPushdown) on PostgreSQL, not on SQLite; MongoDB does
// not say, and serves $in and $or from its indexes.
func TestKeyedReadsWhereTheServerFiltersInItsDatabase(t *testing.T) {
	s := openTestStore(t)
	pushdown, err := s.filtersInDatabase(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	ferret, err := onFerretDB(testContext(t), s.client)
	if err != nil {
		t.Fatal(err)
	}
	if s.keyedReads != (ferret && pushdown) {
		t.Fatalf("keyed reads %v on a server that is FerretDB %v and filters in its database %v", s.keyedReads, ferret, pushdown)
	}
	t.Logf("FerretDB %v, filters in its database %v: keyed reads %v", ferret, pushdown, s.keyedReads)
}
