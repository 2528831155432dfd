package fssptasks

import (
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
)

// Status is a task's state (the contract's FSSPTask.status).
type Status string

// The task states. Queued and Running are transient, the others final.
const (
	Queued    Status = "queued"
	Running   Status = "running"
	Succeeded Status = "succeeded" // every search answered
	Partial   Status = "partial"   // some searches failed: see each result's Error
	Failed    Status = "failed"    // no search answered, or the deadline passed: see Task.Error
)

// Final reports whether s is a final state.
func (s Status) Final() bool { return s != Queued && s != Running }

// Search kinds (the contract's FSSPQuery.type, plus "group" for a submission).
const (
	KindPhysical = "physical"
	KindLegal    = "legal"
	KindIP       = "ip"
	KindGroup    = "group"
)

// Task mirrors the contract's FSSPTask field for field.
type Task struct {
	ID         string     `json:"id"`
	Status     Status     `json:"status"`
	Progress   Progress   `json:"progress"`
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	Error      *Problem   `json:"error,omitempty"`
	Results    []Result   `json:"results,omitempty"`

	revision int64 // the record's Revision when it was read
}

// Revision numbers the saved states of a task: each save of its record by
// its poller counts one more, so a task's ID and Revision name one state
// (and one answer to a client), whichever replica read it and however often.
// A task that was not read from the store (a submission's) has 0.
func (t *Task) Revision() int64 { return t.revision }

// Progress counts finished searches.
type Progress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

// Result mirrors FSSPTaskResult: one search's outcome, at its request index.
type Result struct {
	Index   int           `json:"index"`
	Query   Query         `json:"query"`
	Status  Status        `json:"status"` // Succeeded or Failed
	Error   *Problem      `json:"error,omitempty"`
	Records []fssp.Record `json:"records"`
}

// Query mirrors FSSPQuery: a search kind and its parameters.
type Query struct {
	Type   string `json:"type"` // KindPhysical, KindLegal or KindIP
	Params Params `json:"params"`
}

// Params mirrors FSSPQueryParams: the union of the three searches' fields.
type Params struct {
	Region     *int    `json:"region,omitempty"`
	Lastname   *string `json:"lastname,omitempty"`
	Firstname  *string `json:"firstname,omitempty"`
	Secondname *string `json:"secondname,omitempty"`
	Birthdate  *string `json:"birthdate,omitempty"`
	Name       *string `json:"name,omitempty"`
	Address    *string `json:"address,omitempty"`
	Number     *string `json:"number,omitempty"`
}

// Problem is a failure stored with a task: the client-safe parts of an
// *apperr.Error. The handlers turn it into an RFC 9457 problem with their
// one kind-to-status table (Err gives the *apperr.Error back).
type Problem struct {
	Kind     string `json:"kind"` // apperr.Kind.String()
	Type     string `json:"type,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Upstream string `json:"upstream,omitempty"`
	// UpstreamError is the upstream's own error as it sent it (a failed
	// FSSP search's {code, message}), shown as the problem member
	// upstream_error.
	UpstreamError map[string]any `json:"upstream_error,omitempty"`
}

// Err returns the problem as an *apperr.Error.
func (p *Problem) Err() *apperr.Error {
	k := apperr.Internal
	for c := apperr.Internal; c <= apperr.UpstreamTimeout; c++ {
		if c.String() == p.Kind {
			k = c
			break
		}
	}
	e := &apperr.Error{Kind: k, Type: p.Type, Detail: p.Detail, Upstream: p.Upstream}
	if p.UpstreamError != nil {
		e.Extensions = map[string]any{"upstream_error": p.UpstreamError}
	}
	return e
}

// problemOf keeps the client-safe parts of err (an internal error keeps none).
func problemOf(err error) *Problem {
	e, ok := apperr.As(err)
	if !ok || e.Kind == apperr.Internal {
		return &Problem{Kind: apperr.Internal.String()}
	}
	return &Problem{Kind: e.Kind.String(), Type: e.Type, Detail: e.Detail, Upstream: e.Upstream}
}
