package handlers

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/legalgate/legalgate/internal/fssptasks"
)

// FSSP's task states (/status and /result's response.status).
const (
	fsspDone       = 0
	fsspRunning    = 1
	fsspQueued     = 2
	fsspDoneErrors = 3
)

// nativeStatus is a task's state as FSSP numbers it: a failed task (the
// gateway's deadline, or no search answered) is done with errors.
func nativeStatus(s fssptasks.Status) int {
	switch s {
	case fssptasks.Queued:
		return fsspQueued
	case fssptasks.Running:
		return fsspRunning
	case fssptasks.Succeeded:
		return fsspDone
	}
	return fsspDoneErrors
}

// nativeStatusBody is /status's response: the state and the searches
// answered successfully, of all.
func nativeStatusBody(t *fssptasks.Task) any {
	ok := 0
	for _, r := range t.Results {
		if r.Status == fssptasks.Succeeded {
			ok++
		}
	}
	return map[string]any{"status": nativeStatus(t.Status), "progress": fmt.Sprintf("%d of %d", ok, t.Progress.Total)}
}

// nativeSubResult is one element of /result's response.result, in FSSP's
// members and order.
type nativeSubResult struct {
	Status int          `json:"status"`
	Query  nativeSearch `json:"query"`
	Result any          `json:"result"` // []nativeRecord, or FSSP's {code, message}
}

type nativeSearch struct {
	Type   int               `json:"type"`
	Params map[string]string `json:"params"`
}

// nativeRecord is a record with FSSP's own members, as FSSP sent them.
type nativeRecord struct {
	Name          string `json:"name"`
	ExeProduction string `json:"exe_production"`
	Details       string `json:"details"`
	Subject       string `json:"subject"`
	Department    string `json:"department"`
	Bailiff       string `json:"bailiff"`
	IPEnd         string `json:"ip_end"`
}

// nativeResultBody is /result's response: the searches answered so far in
// request order, each with FSSP's records or FSSP's own error.
func nativeResultBody(t *fssptasks.Task) any {
	results := slices.Clone(t.Results)
	slices.SortFunc(results, func(a, b fssptasks.Result) int { return a.Index - b.Index })
	out := make([]nativeSubResult, 0, len(results))
	for _, r := range results {
		sub := nativeSubResult{Status: fsspDone, Query: nativeQueryOf(r.Query)}
		if r.Status == fssptasks.Succeeded {
			recs := make([]nativeRecord, len(r.Records))
			for i, rec := range r.Records {
				raw := rec.Raw
				recs[i] = nativeRecord{Name: raw.Name, ExeProduction: raw.ExeProduction, Details: raw.Details,
					Subject: raw.Subject, Department: raw.Department, Bailiff: raw.Bailiff, IPEnd: raw.IPEnd}
			}
			sub.Result = recs
		} else {
			sub.Status = fsspDoneErrors
			sub.Result = nativeSubError(r.Error)
		}
		out = append(out, sub)
	}
	var start, end any
	if t.Status != fssptasks.Queued {
		start = fsspStamp(t.CreatedAt)
	}
	if t.FinishedAt != nil {
		end = fsspStamp(*t.FinishedAt)
	}
	return map[string]any{"status": nativeStatus(t.Status), "task_start": start, "task_end": end, "result": out}
}

// nativeSubError is a failed search's error: FSSP's own when FSSP sent
// one, else the gateway's detail in its shape.
func nativeSubError(p *fssptasks.Problem) any {
	if p == nil {
		return map[string]any{"code": 0, "message": "search failed"}
	}
	if p.UpstreamError != nil {
		return p.UpstreamError
	}
	msg := p.Detail
	if msg == "" {
		msg = "search failed"
	}
	return map[string]any{"code": StatusOf(p.Err()), "message": msg}
}

// nativeQueryOf is a search as FSSP's parameters: its type number and the
// parameters it was sent with, as strings.
func nativeQueryOf(q fssptasks.Query) nativeSearch {
	out := nativeSearch{Params: map[string]string{}}
	for n, kind := range fsspKinds {
		if kind == q.Type {
			out.Type = n
		}
	}
	p := q.Params
	if p.Region != nil {
		out.Params["region"] = strconv.Itoa(*p.Region)
	}
	for k, v := range map[string]*string{"lastname": p.Lastname, "firstname": p.Firstname, "secondname": p.Secondname,
		"birthdate": p.Birthdate, "name": p.Name, "address": p.Address, "number": p.Number} {
		if v != nil && *v != "" {
			out.Params[k] = *v
		}
	}
	return out
}

// fsspStamp is FSSP's time format, Moscow time.
func fsspStamp(t time.Time) string {
	return t.In(time.FixedZone("MSK", 3*60*60)).Format(time.DateTime)
}
