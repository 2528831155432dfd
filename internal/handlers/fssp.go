package handlers

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/fairshare"
	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/park"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
)

// fsspHandlers implements the FSSP operations of the contract on the task
// engine. A nil tasks answers 501. (cmd/gateway wiring: server.go sets
// tasks from Deps.)
type fsspHandlers struct {
	deps   *Deps
	tasks  *fssptasks.Engine
	bodies *fsspBodyCache // one encoding per task state, shared by its waiters
	lot    *park.Lot      // parked long polls
}

// fsspTaskPath is the gateway path of a task, the Location of a 202.
const fsspTaskPath = "/v1/fssp/tasks/"

// FsspSearchPhysical starts a search for an individual.
func (h fsspHandlers) FsspSearchPhysical(ctx context.Context, request api.FsspSearchPhysicalRequestObject) (api.FsspSearchPhysicalResponseObject, error) {
	b := request.Body
	if b == nil {
		b = &api.FSSPPhysicalSearch{}
	}
	q := fssptasks.Query{Type: fssptasks.KindPhysical, Params: fssptasks.Params{Region: &b.Region, Lastname: &b.Lastname,
		Firstname: &b.Firstname, Secondname: b.Secondname, Birthdate: b.Birthdate}}
	task, waited, err := h.search(ctx, "fsspSearchPhysical", fssptasks.KindPhysical, request.Params.IdempotencyKey, request.Params.Prefer, b.CallbackUrl, q)
	if err != nil {
		return nil, err
	}
	if waited {
		return api.FsspSearchPhysical200JSONResponse{FSSPTaskFinishedJSONResponse: api.FSSPTaskFinishedJSONResponse{Body: task}}, nil
	}
	return api.FsspSearchPhysical202JSONResponse{FSSPTaskAcceptedJSONResponse: h.accepted(task)}, nil
}

// FsspSearchLegal starts a search for a legal entity.
func (h fsspHandlers) FsspSearchLegal(ctx context.Context, request api.FsspSearchLegalRequestObject) (api.FsspSearchLegalResponseObject, error) {
	b := request.Body
	if b == nil {
		b = &api.FSSPLegalSearch{}
	}
	q := fssptasks.Query{Type: fssptasks.KindLegal, Params: fssptasks.Params{Region: &b.Region, Name: &b.Name, Address: b.Address}}
	task, waited, err := h.search(ctx, "fsspSearchLegal", fssptasks.KindLegal, request.Params.IdempotencyKey, request.Params.Prefer, b.CallbackUrl, q)
	if err != nil {
		return nil, err
	}
	if waited {
		return api.FsspSearchLegal200JSONResponse{FSSPTaskFinishedJSONResponse: api.FSSPTaskFinishedJSONResponse{Body: task}}, nil
	}
	return api.FsspSearchLegal202JSONResponse{FSSPTaskAcceptedJSONResponse: h.accepted(task)}, nil
}

// FsspSearchIP starts a search by proceeding number.
func (h fsspHandlers) FsspSearchIP(ctx context.Context, request api.FsspSearchIPRequestObject) (api.FsspSearchIPResponseObject, error) {
	b := request.Body
	if b == nil {
		b = &api.FSSPIPSearch{}
	}
	q := fssptasks.Query{Type: fssptasks.KindIP, Params: fssptasks.Params{Number: &b.Number}}
	task, waited, err := h.search(ctx, "fsspSearchIP", fssptasks.KindIP, request.Params.IdempotencyKey, request.Params.Prefer, b.CallbackUrl, q)
	if err != nil {
		return nil, err
	}
	if waited {
		return api.FsspSearchIP200JSONResponse{FSSPTaskFinishedJSONResponse: api.FSSPTaskFinishedJSONResponse{Body: task}}, nil
	}
	return api.FsspSearchIP202JSONResponse{FSSPTaskAcceptedJSONResponse: h.accepted(task)}, nil
}

// FsspSearchGroup starts several searches as one task.
func (h fsspHandlers) FsspSearchGroup(ctx context.Context, request api.FsspSearchGroupRequestObject) (api.FsspSearchGroupResponseObject, error) {
	var qs []fssptasks.Query
	var callback *api.CallbackURL
	if request.Body != nil {
		callback = request.Body.CallbackUrl
		qs = make([]fssptasks.Query, len(request.Body.Requests))
		for i, q := range request.Body.Requests {
			p := q.Params
			qs[i] = fssptasks.Query{Type: string(q.Type), Params: fssptasks.Params{Region: p.Region, Lastname: p.Lastname,
				Firstname: p.Firstname, Secondname: p.Secondname, Birthdate: p.Birthdate, Name: p.Name, Address: p.Address, Number: p.Number}}
		}
	}
	task, waited, err := h.search(ctx, "fsspSearchGroup", fssptasks.KindGroup, request.Params.IdempotencyKey, request.Params.Prefer, callback, qs...)
	if err != nil {
		return nil, err
	}
	if waited {
		return api.FsspSearchGroup200JSONResponse{FSSPTaskFinishedJSONResponse: api.FSSPTaskFinishedJSONResponse{Body: task}}, nil
	}
	return api.FsspSearchGroup202JSONResponse{FSSPTaskAcceptedJSONResponse: h.accepted(task)}, nil
}

// FsspGetTask answers a task, waiting up to ?wait=N seconds for it to finish.
func (h fsspHandlers) FsspGetTask(ctx context.Context, request api.FsspGetTaskRequestObject) (api.FsspGetTaskResponseObject, error) {
	if h.tasks == nil {
		return nil, notBuilt("fsspGetTask")
	}
	t, err := tenantFrom(ctx)
	if err != nil {
		return nil, err
	}
	var wait time.Duration
	if request.Params.Wait != nil && *request.Params.Wait > 0 {
		wait = time.Duration(*request.Params.Wait) * time.Second
	}
	// Get and Wait answer only the tenant's own tasks: the bytes shared
	// below are looked up for a task this tenant may see, under a key naming
	// it too.
	get := h.tasks.Get
	if wait > 0 {
		get = h.tasks.GetShared // the waiters of a task arrive together
	}
	task, err := get(ctx, t.ID, request.TaskID)
	if err != nil {
		return nil, err
	}
	if wait > 0 && !task.Status.Final() {
		// A long poll, parked or not, counts against the tenant's and the
		// gateway's caps until it is answered.
		release, err := h.deps.Fair.Admit(ctx, fairshare.Request{Class: fairshare.LongPoll, Tenant: t.ID})
		if err != nil {
			return nil, err
		}
		return &fsspParked{h: h, ctx: ctx, tenantID: t.ID, snapshot: task, wait: wait, release: release}, nil
	}
	return h.taskAnswer(t.ID, task)
}

// taskAnswer is the 200 answer of fsspGetTask for a state of a task of
// tenantID: its shared encoding, with a Retry-After while not final.
func (h fsspHandlers) taskAnswer(tenantID string, task *fssptasks.Task) (api.FsspGetTaskResponseObject, error) {
	body, err := h.bodies.get(tenantID, task)
	if err != nil {
		return nil, err
	}
	if task.Status.Final() {
		return body, nil
	}
	return fsspUnfinished{body: body, retryAfter: []string{strconv.Itoa(h.retryAfter())}}, nil
}

// search submits one search of any kind and, when the client prefers to
// wait (Prefer: wait=N), holds the request until the task is final or N
// seconds (capped at MaxWait) pass. waited reports that a wait was asked: the
// answer is then 200 with the task's current state, final or not, with its
// Location (and Content-Location, since the body is that resource) and, when
// not final, a Retry-After, so the client can go on polling. Without a wait
// it is 202, as it is when the wait would pass a long-poll cap. A quota
// rejection carries the RateLimit fields.
func (h fsspHandlers) search(ctx context.Context, op, kind string, idemKey, prefer, callback *string, qs ...fssptasks.Query) (task api.FSSPTask, waited bool, err error) {
	if h.tasks == nil {
		return api.FSSPTask{}, false, notBuilt(op)
	}
	t, cred, err := credentialFor(ctx, fssp.Upstream)
	if err != nil {
		return api.FSSPTask{}, false, err
	}
	s := fssptasks.Submission{Tenant: t.ID, Credential: cred.Name, Token: cred.Secret, Kind: kind, Requests: qs}
	if idemKey != nil {
		s.IdempotencyKey = *idemKey
	}
	if callback != nil {
		s.Callback = *callback
	}
	hdr := ResponseHeader(ctx)
	sub, err := h.tasks.Submit(ctx, s)
	if err != nil {
		return api.FSSPTask{}, false, err
	}
	for k, v := range sub.Header {
		hdr[k] = v
	}
	current := sub.Task
	wait, waited := preferWait(prefer)
	if waited && !current.Status.Final() {
		// The wait is a long poll. Past a cap the preference is not applied
		// (RFC 7240): the search, already queued, answers 202 at once.
		release, err := h.deps.Fair.Admit(ctx, fairshare.Request{Class: fairshare.LongPoll, Tenant: t.ID})
		if err != nil {
			waited = false
		} else {
			defer release()
		}
	}
	if !waited {
		return fsspTask(current), false, nil
	}
	wait = min(wait, h.tasks.MaxWait())
	hdr.Set("Preference-Applied", "wait="+strconv.Itoa(int(wait/time.Second)))
	if !current.Status.Final() {
		awaitDeadline(exchangeFrom(ctx).w, wait, h.deps.Limits)
		if current, err = h.tasks.Wait(ctx, t.ID, current.ID, wait); err != nil {
			return api.FSSPTask{}, false, err
		}
	}
	hdr.Set("Location", fsspTaskPath+current.ID)
	hdr.Set("Content-Location", fsspTaskPath+current.ID)
	if !current.Status.Final() {
		hdr.Set("Retry-After", strconv.Itoa(h.retryAfter()))
	}
	return fsspTask(current), true, nil
}

func (h fsspHandlers) accepted(task api.FSSPTask) api.FSSPTaskAcceptedJSONResponse {
	return api.FSSPTaskAcceptedJSONResponse{Body: task,
		Headers: api.FSSPTaskAcceptedResponseHeaders{Location: fsspTaskPath + task.ID, RetryAfter: h.retryAfter()}}
}

func (h fsspHandlers) retryAfter() int {
	return int((h.tasks.RetryAfter() + time.Second - 1) / time.Second)
}

// preferWait reads wait=N (seconds, N > 0) from an RFC 7240 Prefer header.
func preferWait(prefer *string) (time.Duration, bool) {
	if prefer == nil {
		return 0, false
	}
	for _, pref := range strings.Split(*prefer, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(strings.SplitN(pref, ";", 2)[0]), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "wait") {
			continue
		}
		n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(value), `"`))
		if err != nil || n <= 0 {
			return 0, false
		}
		return time.Duration(min(n, 3600)) * time.Second, true
	}
	return 0, false
}

// fsspTask converts an engine task into the contract's.
func fsspTask(t *fssptasks.Task) api.FSSPTask {
	out := api.FSSPTask{
		ID: t.ID, Status: api.FSSPTaskStatus(t.Status),
		Progress:  api.FSSPTaskProgress{Done: t.Progress.Done, Total: t.Progress.Total},
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, FinishedAt: t.FinishedAt,
		Error: fsspProblem(t.Error),
	}
	if len(t.Results) > 0 {
		out.Results = make([]api.FSSPTaskResult, len(t.Results))
	}
	for i, r := range t.Results {
		p := r.Query.Params
		res := api.FSSPTaskResult{
			Index: r.Index, Status: api.FSSPTaskResultStatus(r.Status), Error: fsspProblem(r.Error),
			Query: api.FSSPQuery{Type: api.FSSPQueryType(r.Query.Type), Params: api.FSSPQueryParams{Region: p.Region,
				Lastname: p.Lastname, Firstname: p.Firstname, Secondname: p.Secondname, Birthdate: p.Birthdate,
				Name: p.Name, Address: p.Address, Number: p.Number}},
			Records: make([]api.FSSPRecord, len(r.Records)),
		}
		for j, rec := range r.Records {
			res.Records[j] = fsspRecord(rec)
		}
		out.Results[i] = res
	}
	return out
}

func fsspRecord(r fssp.Record) api.FSSPRecord {
	day := func(d fssp.Date) openapi_types.Date { return openapi_types.Date{Time: d.Time} }
	out := api.FSSPRecord{
		Raw: api.FSSPRecordRaw{Name: r.Raw.Name, ExeProduction: r.Raw.ExeProduction, Details: r.Raw.Details,
			Subject: r.Raw.Subject, Department: r.Raw.Department, Bailiff: r.Raw.Bailiff, IpEnd: r.Raw.IPEnd},
		Debtor:     api.FSSPDebtor{Name: r.Debtor.Name, Birthplace: r.Debtor.Birthplace, Address: r.Debtor.Address},
		Proceeding: api.FSSPProceeding{Number: r.Proceeding.Number, Date: day(r.Proceeding.Date), ConsolidatedNumber: r.Proceeding.ConsolidatedNumber},
		Document:   api.FSSPEnforcementDocument{Details: r.Document.Details},
		Subject:    api.FSSPSubject{Text: r.Subject.Text, Amounts: make([]api.FSSPAmount, len(r.Subject.Amounts))},
		Department: r.Department,
		Bailiff:    api.FSSPBailiff{Name: r.Bailiff.Name, Phones: r.Bailiff.Phones},
	}
	if r.Debtor.BirthDate != nil {
		d := day(*r.Debtor.BirthDate)
		out.Debtor.BirthDate = &d
	}
	for i, a := range r.Subject.Amounts {
		out.Subject.Amounts[i] = api.FSSPAmount{Label: a.Label, Amount: a.Amount, Currency: api.FSSPAmountCurrency(a.Currency)}
	}
	if r.End != nil {
		out.End = &api.FSSPProceedingEnd{Date: day(r.End.Date), Article: r.End.Article, Part: r.End.Part, Clause: r.End.Clause}
	}
	return out
}

// fsspProblem turns a stored task problem into the contract's Problem with
// the one kind table of errors.go.
func fsspProblem(p *fssptasks.Problem) *api.Problem {
	if p == nil {
		return nil
	}
	e := p.Err()
	status := StatusOf(e)
	out := &api.Problem{Type: ProblemTypeBase + kindSlug[e.Kind], Title: http.StatusText(status), Status: status}
	if e.Type != "" {
		out.Type = ProblemTypeBase + e.Type
	}
	if e.Detail != "" {
		out.Detail = &e.Detail
	}
	if e.Upstream != "" {
		u := api.ProblemUpstream(e.Upstream)
		out.Upstream = &u
	}
	if p.UpstreamError != nil {
		out.UpstreamError = &p.UpstreamError
	}
	return out
}
