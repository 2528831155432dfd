package quota

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
)

// Rejection is the cause inside a QuotaExceeded error: the policies that had
// no room and the reset of the one that decided.
type Rejection struct {
	Policies []string // policy names, as in the RateLimit fields
	Scope    Scope    // the deciding policy's scope
	Upstream string
	Family   string
	ResetsAt time.Time // the deciding policy's exact reset

	owner    string
	policy   string        // the deciding policy
	limit    int64         // its q
	width    time.Duration // its w
	header   http.Header   // set on the copy inside an error
	rateOnly bool
}

// withHeader returns a copy of r carrying its RateLimit fields as of now.
func (r *Rejection) withHeader(now time.Time) *Rejection {
	cp := *r
	name := sfString(r.policy)
	cp.header = make(http.Header, 2)
	cp.header.Set("RateLimit-Policy", name+";q="+strconv.FormatInt(r.limit, 10)+
		";w="+strconv.FormatInt(ceilSeconds(r.width), 10))
	cp.header.Set("RateLimit", name+";r=0;t="+strconv.FormatInt(ceilSeconds(r.ResetsAt.Sub(now)), 10))
	return &cp
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("quota: %s exhausted until %s", strings.Join(r.Policies, ", "), r.ResetsAt.Format(time.RFC3339))
}

// rejectErr is the client-facing error of rej: Retry-After runs to the exact
// reset plus jitter, rounded up to whole seconds.
func (e *Engine) rejectErr(rej *Rejection, now time.Time) error {
	rej = rej.withHeader(now)
	retry := max(rej.ResetsAt.Sub(now), 0)
	if e.jitter > 0 {
		retry += time.Duration(rand.Int64N(int64(e.jitter)))
	}
	if r := retry % time.Second; r != 0 {
		retry += time.Second - r
	}
	resets := rej.ResetsAt.In(e.loc).Format(time.RFC3339)
	return &apperr.Error{
		Kind:       apperr.QuotaExceeded,
		Type:       "quota-exceeded",
		Title:      "Quota exceeded",
		Detail:     fmt.Sprintf("the %s quota for %s %s is exhausted until %s", rej.Scope, rej.Upstream, rej.Family, resets),
		Upstream:   rej.Upstream,
		RetryAfter: retry,
		Header:     rej.header.Clone(),
		Extensions: map[string]any{
			"violated-policies": append([]string(nil), rej.Policies...),
			"scope":             string(rej.Scope),
			"family":            rej.Family,
			"resets_at":         resets,
		},
		Err: rej,
	}
}

// markPeriod is the period a 423 spends a family for: the longest calendar
// period of the family's credential rules, else the month.
func (e *Engine) markPeriod(upstream, family string) Period {
	for _, s := range e.limits.Load().rules[famKey{upstream, family}] {
		if s.scope == ScopeCredential && (s.period == PeriodMonth || s.period == PeriodDay || s.period == PeriodHour) {
			return s.period // slots are sorted longest first
		}
	}
	return PeriodMonth
}

// markRejection is the rejection of a family marked spent (a 423) until
// until; its policy is the credential rule of markPeriod, if configured.
func (e *Engine) markRejection(credential, upstream, family string, until time.Time, now time.Time) *Rejection {
	period := e.markPeriod(upstream, family)
	name := upstream + "." + family + "." + string(period) + "." + string(ScopeCredential)
	start, end := period.window(now, e.loc)
	rej := &Rejection{Policies: []string{name}, Scope: ScopeCredential, owner: credential,
		Upstream: upstream, Family: family, ResetsAt: until, policy: name, width: end.Sub(start)}
	for _, s := range e.limits.Load().rules[famKey{upstream, family}] {
		if s.scope == ScopeCredential && s.period == period {
			if r, ok := s.resolve(credential); ok {
				rej.limit = r.Limit
			}
		}
	}
	return rej
}

// rateLimit builds the RateLimit and RateLimit-Policy field values
// (draft-ietf-httpapi-ratelimit-headers) for the outcome closest to its
// limit; both empty without outcomes.
func rateLimit(outs []outcome, now time.Time) (field, policy string) {
	var best *outcome
	for i := range outs {
		if best == nil || closer(&outs[i], best) {
			best = &outs[i]
		}
	}
	if best == nil {
		return "", ""
	}
	name := sfString(best.c.policy())
	remaining := max(best.c.rule.Limit-best.used, 0)
	policy = name + ";q=" + strconv.FormatInt(best.c.rule.Limit, 10) + ";w=" + strconv.FormatInt(ceilSeconds(best.c.width), 10)
	field = name + ";r=" + strconv.FormatInt(remaining, 10) + ";t=" + strconv.FormatInt(ceilSeconds(best.reset.Sub(now)), 10)
	return field, policy
}

// closer reports whether a is closer to its limit than b: fewer units left,
// then a smaller share left.
func closer(a, b *outcome) bool {
	ra, rb := a.c.rule.Limit-a.used, b.c.rule.Limit-b.used
	if ra != rb {
		return ra < rb
	}
	return ra*b.c.rule.Limit < rb*a.c.rule.Limit
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// sfString is a structured-field string (RFC 8941 §3.3.3).
func sfString(s string) string {
	return strconv.Quote(s)
}
