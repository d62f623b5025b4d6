package retrypolicy

import (
	"strings"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	cases := []struct {
		name  string
		p     Policy
		delay []time.Duration // Delay(1), Delay(2), ...
	}{
		{"exponential", Policy{MaxAttempts: 5, FirstInterval: time.Second, BackoffCoefficient: 2},
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"constant when the coefficient is 0", Policy{MaxAttempts: 3, FirstInterval: 500 * time.Millisecond},
			[]time.Duration{500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond}},
		{"capped", Policy{MaxAttempts: 9, FirstInterval: time.Second, BackoffCoefficient: 3, MaxInterval: 10 * time.Second},
			[]time.Duration{time.Second, 3 * time.Second, 9 * time.Second, 10 * time.Second, 10 * time.Second}},
		{"fractional coefficient", Policy{MaxAttempts: 4, FirstInterval: 100 * time.Millisecond, BackoffCoefficient: 1.5},
			[]time.Duration{100 * time.Millisecond, 150 * time.Millisecond, 225 * time.Millisecond}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i, want := range c.delay {
				if got := c.p.Delay(i + 1); got != want {
					t.Fatalf("Delay(%d) = %v, want %v", i+1, got, want)
				}
				if again := c.p.Delay(i + 1); again != want {
					t.Fatalf("Delay(%d) is not pure: %v then %v", i+1, want, again)
				}
			}
		})
	}
}

func TestDelayNeverOverflows(t *testing.T) {
	p := Policy{MaxAttempts: 1000, FirstInterval: time.Hour, BackoffCoefficient: 10}
	prev := time.Duration(0)
	for n := 1; n <= 200; n++ {
		d := p.Delay(n)
		if d < prev || d <= 0 {
			t.Fatalf("Delay(%d) = %v after %v", n, d, prev)
		}
		prev = d
	}
	if (Policy{}).Delay(1) != 0 || p.Delay(0) != 0 {
		t.Fatal("an invalid policy or attempt 0 must give 0")
	}
}

func TestValidate(t *testing.T) {
	good := Policy{MaxAttempts: 3, FirstInterval: time.Second, BackoffCoefficient: 2, MaxInterval: time.Minute, RetryTimeout: time.Hour}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid policy: %v", err)
	}
	cases := []struct {
		name string
		edit func(*Policy)
		want string
	}{
		{"no attempts", func(p *Policy) { p.MaxAttempts = 0 }, "MaxAttempts must be at least 1 (got 0)"},
		{"no interval", func(p *Policy) { p.FirstInterval = 0 }, "FirstInterval must be more than 0"},
		{"shrinking", func(p *Policy) { p.BackoffCoefficient = 0.5 }, "BackoffCoefficient must be 0 (constant) or a finite number of at least 1 (got 0.5)"},
		{"cap below the first", func(p *Policy) { p.MaxInterval = time.Millisecond }, "MaxInterval (1ms) must not be less than FirstInterval (1s)"},
		{"negative cap", func(p *Policy) { p.MaxInterval = -1 }, "MaxInterval must not be negative"},
		{"negative timeout", func(p *Policy) { p.RetryTimeout = -time.Second }, "RetryTimeout must not be negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := good
			c.edit(&p)
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "invalid retry policy: ") {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
	err := (Policy{}).Validate()
	if err == nil || !strings.Contains(err.Error(), "MaxAttempts") || !strings.Contains(err.Error(), "FirstInterval") {
		t.Fatalf("the zero policy should report every problem at once: %v", err)
	}
}
