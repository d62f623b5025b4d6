package history

import "testing"

func TestOpCountsSubAddTotal(t *testing.T) {
	a := OpCounts{Insert: OpCount{Calls: 10, Docs: 40}, Find: OpCount{Calls: 3, Docs: 5}, Other: OpCount{Calls: 2}}
	b := OpCounts{Insert: OpCount{Calls: 4, Docs: 10}, Find: OpCount{Calls: 1, Docs: 1}}
	if got, want := a.Sub(b), (OpCounts{Insert: OpCount{Calls: 6, Docs: 30}, Find: OpCount{Calls: 2, Docs: 4}, Other: OpCount{Calls: 2}}); got != want {
		t.Errorf("Sub: got %+v, want %+v", got, want)
	}
	if got := a.Sub(b).Add(b); got != a {
		t.Errorf("Sub then Add: got %+v, want %+v", got, a)
	}
	if got, want := a.Total(), (OpCount{Calls: 15, Docs: 45}); got != want {
		t.Errorf("Total: got %+v, want %+v", got, want)
	}
	if k := a.Kinds(); len(k) != 5 || k[0].Kind != "insert" || k[0].Count != a.Insert || k[4].Kind != "other" {
		t.Errorf("Kinds: %+v", k)
	}
}
