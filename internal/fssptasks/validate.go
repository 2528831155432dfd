package fssptasks

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
)

// validate checks a submission before anything is sent and returns the
// upstream queries, in request order. Field names follow the contract:
// "body.region" for a single search, "body.requests.3.params.region" in a
// group.
func (e *Engine) validate(s Submission) ([]fssp.Query, error) {
	switch s.Kind {
	case KindPhysical, KindLegal, KindIP:
		if len(s.Requests) != 1 {
			return nil, apperr.Errorf(apperr.Internal, "fssptasks: %s search with %d requests", s.Kind, len(s.Requests))
		}
		if s.Requests[0].Type != s.Kind {
			return nil, apperr.Errorf(apperr.Internal, "fssptasks: %s search carrying a %s query", s.Kind, s.Requests[0].Type)
		}
		q, err := upstreamQuery(s.Requests[0], "body.")
		if err != nil {
			return nil, err
		}
		return []fssp.Query{q}, nil
	case KindGroup:
		if len(s.Requests) == 0 {
			return nil, apperr.InvalidField("body.requests", "at least one search is required")
		}
		if len(s.Requests) > e.cfg.MaxGroup {
			return nil, apperr.InvalidField("body.requests", fmt.Sprintf("at most %d searches are allowed", e.cfg.MaxGroup))
		}
		out := make([]fssp.Query, len(s.Requests))
		for i, r := range s.Requests {
			prefix := fmt.Sprintf("body.requests.%d.", i)
			if r.Type != KindPhysical && r.Type != KindLegal && r.Type != KindIP {
				return nil, apperr.InvalidField(prefix+"type", "must be physical, legal or ip")
			}
			q, err := upstreamQuery(r, prefix+"params.")
			if err != nil {
				return nil, err
			}
			out[i] = q
		}
		return out, nil
	}
	return nil, apperr.Errorf(apperr.Internal, "fssptasks: unknown search kind %q", s.Kind)
}

// upstreamQuery validates one query for its type.
func upstreamQuery(q Query, prefix string) (fssp.Query, error) {
	p := q.Params
	out := fssp.Query{Params: fssp.Params{}}
	var allowed []string
	str := func(name string, v *string, required bool, maxLen int) error {
		if v == nil || strings.TrimSpace(*v) == "" {
			if required {
				return apperr.InvalidField(prefix+name, "is required")
			}
			return nil
		}
		if utf8.RuneCountInString(*v) > maxLen {
			return apperr.InvalidField(prefix+name, fmt.Sprintf("must be at most %d characters", maxLen))
		}
		out.Params[name] = strings.TrimSpace(*v)
		return nil
	}
	region := func() error {
		if p.Region == nil {
			return apperr.InvalidField(prefix+"region", "is required")
		}
		if !fssp.ValidRegion(*p.Region) {
			return apperr.InvalidField(prefix+"region", fmt.Sprintf("%d is not an FSSP region code (1 to 99, special codes such as 102 or 150, or -1 for all)", *p.Region))
		}
		out.Params["region"] = fssp.RegionParam(*p.Region)
		return nil
	}
	var checks []func() error
	switch q.Type {
	case KindPhysical:
		out.Type = fssp.TypePhysical
		allowed = []string{"region", "lastname", "firstname", "secondname", "birthdate"}
		checks = []func() error{region,
			func() error { return str("lastname", p.Lastname, true, 100) },
			func() error { return str("firstname", p.Firstname, true, 100) },
			func() error { return str("secondname", p.Secondname, false, 100) },
			func() error {
				if err := str("birthdate", p.Birthdate, false, 10); err != nil {
					return err
				}
				if v, ok := out.Params["birthdate"]; ok && !fssp.ValidBirthdate(v) {
					return apperr.InvalidField(prefix+"birthdate", "must be a real date written DD.MM.YYYY")
				}
				return nil
			}}
	case KindLegal:
		out.Type = fssp.TypeLegal
		allowed = []string{"region", "name", "address"}
		checks = []func() error{region,
			func() error { return str("name", p.Name, true, 300) },
			func() error { return str("address", p.Address, false, 300) }}
	case KindIP:
		out.Type = fssp.TypeIP
		allowed = []string{"number"}
		checks = []func() error{func() error {
			if err := str("number", p.Number, true, 40); err != nil {
				return err
			}
			if !fssp.ValidNumber(out.Params["number"]) {
				return apperr.InvalidField(prefix+"number", "must be n…n/yy/dd/rr or n…n/yy/ddddd-ИП")
			}
			return nil
		}}
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"region", p.Region != nil}, {"lastname", p.Lastname != nil}, {"firstname", p.Firstname != nil},
		{"secondname", p.Secondname != nil}, {"birthdate", p.Birthdate != nil}, {"name", p.Name != nil},
		{"address", p.Address != nil}, {"number", p.Number != nil},
	} {
		if f.set && !slices.Contains(allowed, f.name) {
			return fssp.Query{}, apperr.InvalidField(prefix+f.name, "is not a field of a "+q.Type+" search")
		}
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return fssp.Query{}, err
		}
	}
	return out, nil
}
