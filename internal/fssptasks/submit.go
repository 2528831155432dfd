package fssptasks

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/ops"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/telemetry"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
)

// Submission is one search request of a tenant.
type Submission struct {
	Tenant         string        // tenant id; tasks and idempotency keys are scoped to it
	Credential     string        // upstream credential name (quota and polling)
	Token          tenant.Secret // the credential's FSSP token
	IdempotencyKey string        // optional
	Kind           string        // KindPhysical, KindLegal, KindIP or KindGroup
	Requests       []Query       // one for a single search; the group's searches in order
	Callback       string        // optional webhook URL, told once the task is final (Config.Callbacks)
}

// Submitted is the outcome of Submit.
type Submitted struct {
	Task     *Task
	Header   http.Header // the quota's RateLimit headers (empty on a replay)
	Replayed bool        // the Idempotency-Key matched an earlier submission
}

// operation is the operation a task of kind is metered and ledgered under:
// the one whose x-gateway names the task, whichever route submitted it.
func (e *Engine) operation(kind string) (string, error) {
	table := e.cfg.Ops
	if table == nil {
		var err error
		if table, err = ops.Contract(); err != nil {
			return "", apperr.Wrap(apperr.Internal, "", err)
		}
	}
	o, ok := table.Task(fssp.Upstream, kind)
	if !ok {
		return "", apperr.Wrap(apperr.Internal, "", fmt.Errorf("fssptasks: no operation of the contract submits %q tasks", kind))
	}
	return o.ID, nil
}

// Submit validates s, reserves quota, submits the search upstream (split into
// groups of GroupLimit) and stores the new task. With an Idempotency-Key, a
// retry of the same search answers the first submission's task (Replayed,
// nothing sent upstream), another search under the key is Unprocessable and
// a retry while the first submission runs is a Conflict; a failed
// submission (nothing accepted upstream) frees its key. A group that fails
// after a part was accepted is not a failure: see submit.
func (e *Engine) Submit(ctx context.Context, s Submission) (*Submitted, error) {
	queries, err := e.validate(s)
	if err != nil {
		return nil, err
	}
	if err := e.checkCallback(s); err != nil {
		return nil, err
	}
	var sub *Submitted
	answer, replayed, err := e.idem.Do(ctx, s.Tenant, s.IdempotencyKey, fingerprint(s.Kind, queries, s.Callback),
		func(ctx context.Context) (idempotency.Response, error) {
			var err error
			if sub, err = e.submit(ctx, s, queries); err != nil {
				return idempotency.Response{}, err
			}
			return idempotency.Response{Status: http.StatusAccepted, Body: []byte(sub.Task.ID)}, nil
		})
	if err != nil || !replayed {
		return sub, err
	}
	t, err := e.Get(ctx, s.Tenant, string(answer.Body))
	if err != nil {
		return nil, err
	}
	return &Submitted{Task: t, Header: http.Header{}, Replayed: true}, nil
}

// fingerprint identifies a submission's content for its Idempotency-Key:
// the kind and the validated, trimmed queries.
func fingerprint(kind string, qs []fssp.Query, callback string) string {
	b, _ := json.Marshal(qs)
	if callback == "" {
		return idempotency.Fingerprint([]byte("fssp"), []byte(kind), b)
	}
	return idempotency.Fingerprint([]byte("fssp"), []byte(kind), b, []byte(callback))
}

// submit reserves quota for every upstream call, sends them and stores the
// task. The calls run under their own deadline (SubmitTimeout), detached from
// ctx: a client hanging up mid-group must not leave parts accepted upstream
// without a task. Once a part was accepted, a later failure no longer fails
// the submission: the failed and unsent parts are stored as failed results
// (their quota refunded) and the task ends partial, or failed if no accepted
// part succeeds.
func (e *Engine) submit(ctx context.Context, s Submission, queries []fssp.Query) (*Submitted, error) {
	chunks := [][]fssp.Query{queries}
	if s.Kind == KindGroup {
		chunks = nil
		for i := 0; i < len(queries); i += e.cfg.GroupLimit {
			chunks = append(chunks, queries[i:min(i+e.cfg.GroupLimit, len(queries))])
		}
	}
	// Reserve every upstream call first, so a rejection sends nothing.
	res := make([]*quota.Reservation, len(chunks))
	refund := func(from int) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.RedisTimeout)
		defer cancel()
		for _, r := range res[from:] {
			if r != nil {
				if err := r.Refund(rctx); err != nil {
					e.log.WarnContext(ctx, "quota refund failed", slog.String("upstream", fssp.Upstream), slog.String("error", err.Error()))
				}
			}
		}
	}
	header := http.Header{}
	if e.reserve != nil {
		op, err := e.operation(s.Kind)
		if err != nil {
			return nil, err
		}
		for i := range chunks {
			r, err := e.reserve(ctx, quota.Request{Tenant: s.Tenant, Credential: s.Credential, Upstream: fssp.Upstream, Operation: op})
			if err != nil {
				refund(0)
				return nil, err
			}
			res[i] = r
			header = r.Headers()
		}
	}
	sctx, cancel := context.WithTimeout(tenant.WithCredential(context.WithoutCancel(ctx), s.Credential), e.cfg.SubmitTimeout)
	defer cancel()
	now := e.cfg.Now()
	r := &record{
		Task:   Task{Status: Queued, Progress: Progress{Total: len(queries)}},
		Tenant: s.Tenant, Credential: s.Credential, Kind: s.Kind, Requests: s.Requests,
		Parts: make([]part, len(chunks)), Trace: telemetry.Traceparent(ctx), Callback: s.Callback,
	}
	offset := 0
	for i, c := range chunks {
		r.Parts[i] = part{Offset: offset, Count: len(c)}
		offset += len(c)
	}
	for i, c := range chunks {
		var upID string
		var err error
		if s.Kind == KindGroup {
			upID, err = e.client.SearchGroup(sctx, s.Token, c)
		} else {
			upID, err = e.client.Search(sctx, s.Token, c[0])
		}
		if err == nil {
			r.Parts[i].Upstream = upID
			continue
		}
		e.noteRejected(s.Credential, err)
		// Upstream calls that failed did no work, nor did the ones not sent:
		// give their quota back. Parts already accepted keep theirs (they run).
		refund(i)
		e.log.WarnContext(ctx, "fssp submission failed", slog.String("tenant", s.Tenant),
			slog.String("upstream", fssp.Upstream), slog.Int("part", i), slog.Int("parts", len(chunks)), slog.String("error", err.Error()))
		if i == 0 {
			return nil, err
		}
		for j := i; j < len(chunks); j++ {
			e.failPart(r, &r.Parts[j], err)
		}
		break
	}
	e.tokens.Store(s.Credential, s.Token)
	r.Task.ID, r.Task.CreatedAt, r.Task.UpdatedAt = newID(now), now, now
	r.NextPoll = now.Add(e.cfg.PollInitial)
	if err := e.create(sctx, r); err != nil {
		return nil, err
	}
	select {
	case e.kick <- r.Task.ID:
	default: // the next scan finds it
	}
	return &Submitted{Task: &r.Task, Header: header}, nil
}

// failPart records the searches of a part that FSSP did not accept as
// failed results with err's problem.
func (e *Engine) failPart(r *record, p *part, err error) {
	prob := problemOf(err)
	for i := range p.Count {
		idx := p.Offset + i
		r.Task.Results = append(r.Task.Results, Result{Index: idx, Query: r.Requests[idx], Status: Failed, Error: prob, Records: []fssp.Record{}})
	}
	p.Started, p.Done = true, true
	r.Task.Progress.Done += p.Count
}
