package queues

import (
	"strings"
	"testing"
	"time"
)

func TestPartitionOf(t *testing.T) {
	// FNV-1a 32 of "" is the offset basis 2166136261; of "a" it is 0xe40c292c.
	if got, want := PartitionOf("", 1000), int(2166136261%1000); got != want {
		t.Errorf(`PartitionOf("", 1000) = %d, want %d`, got, want)
	}
	if got, want := PartitionOf("a", 16), int(uint32(0xe40c292c)%16); got != want {
		t.Errorf(`PartitionOf("a", 16) = %d, want %d`, got, want)
	}
	counts := make([]int, 16)
	for i := range 16000 {
		p := PartitionOf("instance-"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+itoa(i), 16)
		if p < 0 || p >= 16 {
			t.Fatalf("partition %d out of range", p)
		}
		counts[p]++
	}
	for p, n := range counts {
		if n < 700 || n > 1300 { // 1000 expected each
			t.Errorf("partition %d got %d of 16000 ids: poor spread %v", p, n, counts)
		}
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{ControlQueue("warren", 3), "warren.control.03"},
		{ControlQueue("", 12), "warren.control.12"},
		{ControlQueue("h", 1023), "h.control.1023"},
		{WorkItemQueue("warren"), "warren.workitems"},
		{DeadLetterQueue("warren"), "warren.deadletter"},
		{delayLevel("warren", 7), "warren.delay.07"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestDelayKeyAndPatterns(t *testing.T) {
	if got, want := delayKey(4, 5, "warren.control.03"), "0.1.0.1.warren.control.03"; got != want {
		t.Errorf("delayKey = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		k    int
		set  bool
		want string
	}{
		{3, true, "1.#"}, {3, false, "0.#"}, {1, true, "*.*.1.#"}, {0, false, "*.*.*.0.#"},
	} {
		if got := levelPattern(4, tc.k, tc.set); got != tc.want {
			t.Errorf("levelPattern(4, %d, %v) = %q, want %q", tc.k, tc.set, got, tc.want)
		}
	}
	if got, want := deliverPattern(3, "h.workitems"), "*.*.*.h.workitems"; got != want {
		t.Errorf("deliverPattern = %q, want %q", got, want)
	}
}

func TestTicksUntilRoundsUpAndCaps(t *testing.T) {
	c := &Conn{cfg: Config{TimerTick: 10 * time.Millisecond, TimerLevels: 4}}
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		d    time.Duration
		want uint64
	}{
		{-time.Second, 0}, {0, 0}, {time.Nanosecond, 1}, {10 * time.Millisecond, 1},
		{11 * time.Millisecond, 2}, {150 * time.Millisecond, 15}, {151 * time.Millisecond, 15}, {time.Hour, 15},
	} {
		if got := c.ticksUntil(now.Add(tc.d), now); got != tc.want {
			t.Errorf("ticksUntil(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
	if got, want := c.cfg.maxTimerDelay(), 150*time.Millisecond; got != want {
		t.Errorf("maxTimerDelay = %v, want %v", got, want)
	}
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	cfg, err := Config{URL: "amqp://x"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Hub != "warren" || cfg.Partitions != 16 || cfg.TimerTick != 10*time.Millisecond || cfg.TimerLevels != 18 || cfg.DeliveryLimit != 5 ||
		cfg.ControlDeliveryLimit != 100 || cfg.DialTimeout != 5*time.Second || cfg.OperationTimeout != 30*time.Second {
		t.Errorf("defaults: %+v", cfg)
	}
	for _, bad := range []Config{
		{},
		{URL: "amqp://x", Partitions: 2000},
		{URL: "amqp://x", TimerTick: 1500 * time.Microsecond},
		{URL: "amqp://x", TimerLevels: 33},
		{URL: "amqp://x", DeliveryLimit: -1},
		{URL: "amqp://x", ControlDeliveryLimit: -1},
		{URL: "amqp://x", OperationTimeout: -time.Second},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	for _, u := range []string{"amqp://guest:secret@host:5672/", "amqp://guest:123/secret@host:5672/", "amqp://guest:se#cret@host/"} {
		if got := redact(u); strings.Contains(got, "secret") || strings.Contains(got, "cret") {
			t.Errorf("redact(%q) kept the password: %s", u, got)
		}
		if got := redactAll([]string{u, u}); strings.Contains(got, "cret") {
			t.Errorf("redactAll kept the password: %s", got)
		}
	}
	if got := (Config{URL: " amqp://a/ ,amqp://b/,"}).urls(); len(got) != 2 || got[0] != "amqp://a/" || got[1] != "amqp://b/" {
		t.Errorf("urls = %q", got)
	}
}
