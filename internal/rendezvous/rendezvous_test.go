package rendezvous

import (
	"fmt"
	"testing"
)

func TestOwnerEmpty(t *testing.T) {
	if got := Owner(0, nil); got != "" {
		t.Fatalf("Owner with no workers = %q, want empty", got)
	}
	if got := Assign(4, nil); len(got) != 0 {
		t.Fatalf("Assign with no workers = %v, want empty", got)
	}
}

func TestOwnerIgnoresOrder(t *testing.T) {
	a := []string{"w-a", "w-b", "w-c", "w-d"}
	b := []string{"w-d", "w-b", "w-a", "w-c"}
	for p := 0; p < 64; p++ {
		if Owner(p, a) != Owner(p, b) {
			t.Fatalf("partition %d: owner depends on the order of ids", p)
		}
	}
}

func TestAssignCoversEveryPartitionOnce(t *testing.T) {
	ids := []string{"host-1-aaa", "host-2-bbb", "host-3-ccc"}
	as := Assign(16, ids)
	seen := map[int]string{}
	for id, ps := range as {
		for _, p := range ps {
			if prev, ok := seen[p]; ok {
				t.Fatalf("partition %d owned by %s and %s", p, prev, id)
			}
			seen[p] = id
			if Owner(p, ids) != id {
				t.Fatalf("Assign and Owner disagree on partition %d", p)
			}
		}
	}
	if len(seen) != 16 {
		t.Fatalf("%d of 16 partitions assigned: %v", len(seen), as)
	}
	if len(as) != 3 {
		t.Fatalf("want an entry per worker, got %v", as)
	}
}

// With 16 partitions and 3 workers a fair share is 5.3; rendezvous hashing is random, so
// "within reason" is checked over many worker sets: nobody is left empty-handed in most of
// them and the average largest share stays near the fair one.
func TestAssignBalance(t *testing.T) {
	const trials = 200
	empty, sumMax := 0, 0
	for i := 0; i < trials; i++ {
		ids := []string{fmt.Sprintf("worker-%d-a", i), fmt.Sprintf("worker-%d-b", i), fmt.Sprintf("worker-%d-c", i)}
		maxN := 0
		for _, ps := range Assign(16, ids) {
			if len(ps) == 0 {
				empty++
			}
			maxN = max(maxN, len(ps))
		}
		sumMax += maxN
	}
	if empty > trials/50 {
		t.Errorf("a worker got no partition in %d of %d trials", empty, trials)
	}
	if avg := float64(sumMax) / trials; avg > 8.5 {
		t.Errorf("average largest share %.2f of 16 partitions over 3 workers, want near 5.3", avg)
	}
	// And one fixed, realistic worker set is checked exactly.
	ids := []string{"warren-worker-1", "warren-worker-2", "warren-worker-3"}
	for id, ps := range Assign(16, ids) {
		if len(ps) < 2 || len(ps) > 10 {
			t.Errorf("%s owns %d of 16 partitions: %v", id, len(ps), ps)
		}
	}
}

func TestMinimalMovement(t *testing.T) {
	const P = 64
	ids := []string{"w1", "w2", "w3"}
	before := Assign(P, ids)
	owner := map[int]string{}
	for id, ps := range before {
		for _, p := range ps {
			owner[p] = id
		}
	}

	// A worker joins: every partition that moves, moves to the newcomer.
	joined := Assign(P, append(ids, "w4"))
	moved := 0
	for id, ps := range joined {
		for _, p := range ps {
			if owner[p] != id {
				if id != "w4" {
					t.Fatalf("partition %d moved from %s to %s when w4 joined", p, owner[p], id)
				}
				moved++
			}
		}
	}
	if moved == 0 || moved > P/2 {
		t.Fatalf("%d of %d partitions moved to the 4th worker, want about %d", moved, P, P/4)
	}

	// A worker leaves: only its partitions move; everyone else keeps theirs.
	left := Assign(P, []string{"w1", "w3"})
	for _, id := range []string{"w1", "w3"} {
		kept := map[int]bool{}
		for _, p := range left[id] {
			kept[p] = true
		}
		for _, p := range before[id] {
			if !kept[p] {
				t.Fatalf("partition %d left %s when w2 left", p, id)
			}
		}
	}
	if len(left["w1"])+len(left["w3"]) != P {
		t.Fatalf("not all partitions reassigned after w2 left: %v", left)
	}
}

func TestOwnerStable(t *testing.T) {
	// The hash is a contract between processes (and versions): pin a few answers.
	ids := []string{"a", "b", "c"}
	got := ""
	for p := 0; p < 8; p++ {
		got += Owner(p, ids)
	}
	if got != "cbaacccb" {
		t.Fatalf("owners of partitions 0..7 among a,b,c = %q, want %q: the hash changed, and processes of different versions would disagree", got, "cbaacccb")
	}
}
