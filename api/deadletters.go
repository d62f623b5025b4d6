package api

import "time"

// DeadLetter is a message given up on, as GET /v1/deadletters lists it: why, where from,
// when, and the start of its body (text; bytes that are not UTF-8 show as U+FFFD).
type DeadLetter struct {
	ID          string    `json:"id"`
	MessageID   string    `json:"messageId"`
	Kind        string    `json:"kind"`
	InstanceID  string    `json:"instanceId"`
	Reason      string    `json:"reason"`
	SourceQueue string    `json:"sourceQueue"`
	PublishedAt time.Time `json:"publishedAt"`
	DeadAt      time.Time `json:"deadAt"`
	BodyBytes   int       `json:"bodyBytes"`
	BodyExcerpt string    `json:"bodyExcerpt"`
	// Truncated says the body was too large to keep whole: BodyBytes counts what was kept,
	// and it cannot be redriven.
	Truncated bool `json:"truncated,omitempty"`
}

// DeadLettersResponse is the answer to GET /v1/deadletters: one page, oldest first.
type DeadLettersResponse struct {
	DeadLetters []DeadLetter `json:"deadLetters"`
	NextCursor  string       `json:"nextCursor"`
}
