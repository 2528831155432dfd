package handlers

import (
	"strings"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func ancestors(in []garant.Ancestor) []api.GarantAncestor {
	out := make([]api.GarantAncestor, 0, len(in))
	for _, a := range in {
		out = append(out, api.GarantAncestor{Entry: int(a.Entry), Title: a.Title})
	}
	return out
}

func docLink(d garant.DocLink) api.GarantDocumentLink {
	return api.GarantDocumentLink{Topic: int(d.Topic), Name: d.Name, URL: d.URL}
}

func docLinks(in []garant.DocLink) []api.GarantDocumentLink {
	out := make([]api.GarantDocumentLink, 0, len(in))
	for _, d := range in {
		out = append(out, docLink(d))
	}
	return out
}

// events converts change events; an event whose date is not YYYY-MM-DD
// keeps the date raw and is counted by unparsed, never dropped.
func events(in []garant.Event, unparsed func(field string)) []api.GarantChangeEvent {
	out := make([]api.GarantChangeEvent, 0, len(in))
	for _, e := range in {
		ev := api.GarantChangeEvent{Type: int(e.Type)}
		if t, err := time.Parse(time.DateOnly, strings.TrimSpace(e.Date)); err == nil {
			ev.Date = &openapi_types.Date{Time: t}
		} else {
			raw := e.Date
			ev.DateRaw = &raw
			unparsed("events.date")
		}
		out = append(out, ev)
	}
	return out
}

func categories(in []garant.Category) []api.GarantPrimeCategory {
	out := make([]api.GarantPrimeCategory, 0, len(in))
	for _, c := range in {
		pc := api.GarantPrimeCategory{Text: c.Text, Children: categories(c.Children)}
		if c.ID != nil {
			id := int(*c.ID)
			pc.Id = &id
		}
		out = append(out, pc)
	}
	return out
}

// dotDate reads one end of a period, Garant's D.M.YYYY: the date, or
// (when s is not empty and cannot be read) s itself as raw, counted by
// unparsed under field. An empty s is an open end: neither.
func dotDate(s, field string, unparsed func(string)) (*openapi_types.Date, *string) {
	v := strings.TrimSpace(s)
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse("2.1.2006", v)
	if err != nil {
		unparsed(field)
		return nil, &s
	}
	return &openapi_types.Date{Time: t}, nil
}

func editions(in []garant.Edition, unparsed func(field string)) api.GarantEditionList {
	out := api.GarantEditionList{Editions: make([]api.GarantEdition, 0, len(in))}
	for _, e := range in {
		ed := api.GarantEdition{Status: api.GarantEditionStatus(e.Status), Topic: int(e.Topic),
			Activity: make([]api.GarantPeriod, 0, len(e.Activity)), NotSure: make([]api.GarantUncertainPeriod, 0, len(e.NotSure)),
			ChangingDocuments: make([]api.GarantChangingDocument, 0, len(e.ChangingDocuments))}
		for _, a := range e.Activity {
			var p api.GarantPeriod
			p.From, p.FromRaw = dotDate(a.From, "activity.from", unparsed)
			p.To, p.ToRaw = dotDate(a.To, "activity.to", unparsed)
			ed.Activity = append(ed.Activity, p)
		}
		for _, n := range e.NotSure {
			p := api.GarantUncertainPeriod{Text: n.Text}
			p.From, p.FromRaw = dotDate(n.From, "notSure.from", unparsed)
			p.To, p.ToRaw = dotDate(n.To, "notSure.to", unparsed)
			ed.NotSure = append(ed.NotSure, p)
		}
		for _, d := range e.ChangingDocuments {
			cd := api.GarantChangingDocument{Topic: int(d.Topic), Text: d.Text}
			if d.Entry != nil {
				n := int(*d.Entry)
				cd.Entry = &n
			}
			ed.ChangingDocuments = append(ed.ChangingDocuments, cd)
		}
		out.Editions = append(out.Editions, ed)
	}
	return out
}

func optString(s garant.String) *string {
	if s == "" {
		return nil
	}
	v := string(s)
	return &v
}

func topicInfo(r *garant.TopicInfo) api.GarantTopicInfo {
	list := func(s garant.Strings) []string { return orEmpty([]string(s)) }
	var access *api.GarantTopicInfoAccess
	if r.Access != "" {
		a := api.GarantTopicInfoAccess(r.Access)
		access = &a
	}
	return api.GarantTopicInfo{
		Topic: int(r.Topic), Name: r.Name, Access: access,
		Type: list(r.Type), Adopted: list(r.Adopted), Class: list(r.Class), Date: list(r.Date),
		Number: list(r.Number), Category: list(r.Category), Kind: list(r.Kind), Territory: list(r.Territory),
		Active: list(r.Active), Chdate: list(r.ChDate),
		Rdate: optString(r.RDate), Rcode: optString(r.RCode), Rstatus: optString(r.RStatus),
		Status: optString(r.Status), LastModified: optString(r.LastModified),
	}
}
