package history

// OpCount is how many commands of one kind a store sent (round trips) and how many
// documents they carried or touched: inserted, returned, matched or deleted.
type OpCount struct {
	Calls int64 `json:"calls" bson:"calls"`
	Docs  int64 `json:"docs" bson:"docs"`
}

// OpCounts are a store's commands by kind since it opened, as a Store that counts them
// reports (history/mongo's Store.Ops). Benchmarks take two and subtract ([OpCounts.Sub]).
type OpCounts struct {
	Insert OpCount `json:"insert" bson:"insert"`
	Find   OpCount `json:"find" bson:"find"`     // find and getMore
	Update OpCount `json:"update" bson:"update"` // update and findAndModify
	Delete OpCount `json:"delete" bson:"delete"`
	Other  OpCount `json:"other" bson:"other"` // aggregate, count, hello, createIndexes, …
}

// Sub returns o less before, kind by kind: the operations between two snapshots.
func (o OpCounts) Sub(before OpCounts) OpCounts {
	return o.zip(before, func(a, b int64) int64 { return a - b })
}

// Add returns o plus other, kind by kind: the operations of two stores together.
func (o OpCounts) Add(other OpCounts) OpCounts {
	return o.zip(other, func(a, b int64) int64 { return a + b })
}

// Total is every kind's round trips and documents together.
func (o OpCounts) Total() OpCount {
	var t OpCount
	for _, k := range o.Kinds() {
		t.Calls += k.Count.Calls
		t.Docs += k.Count.Docs
	}
	return t
}

// NamedOpCount is one kind's count and its name (insert, find, update, delete, other).
type NamedOpCount struct {
	Kind  string
	Count OpCount
}

// Kinds lists the counts in a fixed order, for printing.
func (o OpCounts) Kinds() []NamedOpCount {
	return []NamedOpCount{{"insert", o.Insert}, {"find", o.Find}, {"update", o.Update}, {"delete", o.Delete}, {"other", o.Other}}
}

func (o OpCounts) zip(p OpCounts, f func(a, b int64) int64) OpCounts {
	c := func(a, b OpCount) OpCount { return OpCount{Calls: f(a.Calls, b.Calls), Docs: f(a.Docs, b.Docs)} }
	return OpCounts{
		Insert: c(o.Insert, p.Insert),
		Find:   c(o.Find, p.Find),
		Update: c(o.Update, p.Update),
		Delete: c(o.Delete, p.Delete),
		Other:  c(o.Other, p.Other),
	}
}
