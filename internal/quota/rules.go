package quota

import (
	"fmt"
	"sort"
	"strconv"
	"time"
)

// Request names one upstream call to meter. Credential is the configured
// name of the upstream credential (never the token itself).
type Request struct {
	Tenant, Credential, Upstream, Operation string
}

type famKey struct{ upstream, family string }

// slot holds the rules of one scope and period of a family: a default and
// per-owner replacements.
type slot struct {
	scope   Scope
	period  Period
	def     *Rule
	byOwner map[string]Rule
}

func (s *slot) resolve(owner string) (Rule, bool) {
	if r, ok := s.byOwner[owner]; ok {
		r.Owner = owner
		return r, true
	}
	if s.def != nil {
		r := *s.def
		r.Owner = owner
		return r, true
	}
	return Rule{}, false
}

// indexRules validates rules and groups them by upstream and family.
func indexRules(rules []Rule) (map[famKey][]slot, error) {
	idx := make(map[famKey][]slot)
	for i, r := range rules {
		if err := validRule(r); err != nil {
			return nil, fmt.Errorf("quota: rule %d: %w", i, err)
		}
		fk := famKey{r.Upstream, r.Family}
		slots := idx[fk]
		j := 0
		for j < len(slots) && (slots[j].scope != r.Scope || slots[j].period != r.Period) {
			j++
		}
		if j == len(slots) {
			slots = append(slots, slot{scope: r.Scope, period: r.Period, byOwner: map[string]Rule{}})
		}
		s := &slots[j]
		if _, dup := s.byOwner[r.Owner]; dup || (r.Owner == "" && s.def != nil) {
			return nil, fmt.Errorf("quota: rule %d: duplicate %s %s/%s %s rule for owner %q",
				i, r.Scope, r.Upstream, r.Family, r.Period, r.Owner)
		}
		if r.Owner == "" {
			def := r
			s.def = &def
		} else {
			s.byOwner[r.Owner] = r
		}
		idx[fk] = slots
	}
	for _, slots := range idx {
		sort.Slice(slots, func(a, b int) bool {
			if slots[a].scope != slots[b].scope {
				return slots[a].scope == ScopeCredential
			}
			return slots[a].period.rank() < slots[b].period.rank()
		})
	}
	return idx, nil
}

func validRule(r Rule) error {
	switch {
	case r.Scope != ScopeCredential && r.Scope != ScopeTenant:
		return fmt.Errorf("unknown scope %q", r.Scope)
	case !r.Period.valid():
		return fmt.Errorf("unknown period %q", r.Period)
	case r.Upstream == "" || r.Family == "":
		return fmt.Errorf("upstream and family are required")
	case r.Limit < 0:
		return fmt.Errorf("negative limit %d", r.Limit)
	}
	for _, n := range []string{r.Owner, r.Upstream, r.Family} {
		if err := validName("name", n); err != nil {
			return err
		}
	}
	return nil
}

// check is one rule applied to one request: the Redis key it counts in and
// the window it counts over.
type check struct {
	rule  Rule // Owner is the actual tenant or credential
	units int64
	key   string
	reset time.Time     // fixed windows: the window's end
	width time.Duration // the window's length (w of the RateLimit-Policy)
	span  time.Duration // sliding windows: the window; 0 for fixed ones
	in    variant
}

func (c *check) sliding() bool { return c.span > 0 }

// variant says when a check or mark of a split family applies: always, only
// while the credential's family is combined, or only while it is split.
type variant uint8

const (
	always variant = iota
	whileCombined
	whileSplit
)

// arg is the variant as the reserve script reads it (a constant: boxing
// it allocates nothing).
func (v variant) arg() any {
	switch v {
	case whileCombined:
		return "c"
	case whileSplit:
		return "s"
	}
	return "-"
}

func (v variant) on(split bool) bool {
	return v == always || (v == whileSplit) == split
}

func (c *check) policy() string {
	return c.rule.Upstream + "." + c.rule.Family + "." + string(c.rule.Period) + "." + string(c.rule.Scope)
}

func (e *Engine) newCheck(r Rule, cred string, units int64, now time.Time) check {
	c := check{rule: r, units: units}
	k := "{cred:" + cred + "}:q:" + string(r.Scope) + ":" + r.Owner + ":" + r.Upstream + ":" + r.Family + ":" + string(r.Period)
	if span, ok := r.Period.sliding(); ok {
		c.key, c.span, c.width = k, span, span
		return c
	}
	start, end := r.Period.window(now, e.loc)
	c.key, c.reset, c.width = k+":"+strconv.FormatInt(start.Unix(), 10), end, end.Sub(start)
	return c
}

// attemptKey records what a reservation's script did (suffix "" for the
// reserve, ":refund" for its refund), so that the same command sent again
// (go-redis retries a command whose connection broke after Redis ran it)
// answers the same and changes nothing twice.
func attemptKey(cred, id, suffix string) string {
	return "{cred:" + cred + "}:q:attempt:" + id + suffix
}

func markKey(cred, upstream, family string) string {
	return "{cred:" + cred + "}:q:mark:" + upstream + ":" + family
}

func syncKey(cred, upstream, family string, start time.Time) string {
	return "{cred:" + cred + "}:q:sync:" + upstream + ":" + family + ":" + strconv.FormatInt(start.Unix(), 10)
}

// plan is what one Reserve checks. For an operation of a split family it
// holds the checks and marks of both variants, and the script picks one by
// the credential's split key.
type plan struct {
	req    Request
	units  int64  // what the operation costs in its family
	family string // the operation's family (the combined one when split), or FamilyRate for rate-only operations
	own    string // the operation's own family when its family is split, else ""
	split  string // the credential's split key when own is set
	checks []check
	marks  []mark // the 423 marks of the operation's family; none for rate-only
}

// mark is the 423 mark key of one family.
type mark struct {
	key, family string
	in          variant
}

// ledgerField is the operation's ledger field prefix when the family is
// split or not.
func (p *plan) ledgerField(split bool) string {
	return ledgerField(p.req.Tenant, p.req.Upstream, p.familyIn(split), p.req.Operation)
}

// familyIn is the family the operation counts in.
func (p *plan) familyIn(split bool) string {
	if split && p.own != "" {
		return p.own
	}
	return p.family
}

// plan resolves the rules of r; nil means the operation is unmetered.
func (e *Engine) plan(r Request, now time.Time) (*plan, error) {
	cost, metered := e.families[r.Upstream][r.Operation]
	ls := e.limits.Load() // one rule set for the whole plan
	rate := ls.rules[famKey{r.Upstream, FamilyRate}]
	if !metered && len(rate) == 0 {
		return nil, nil
	}
	if r.Credential == "" {
		return nil, fmt.Errorf("quota: %s %s: no credential", r.Upstream, r.Operation)
	}
	if err := validName("credential", r.Credential); err != nil {
		return nil, err
	}
	if err := validName("tenant", r.Tenant); err != nil {
		return nil, err
	}
	p := &plan{req: r, family: FamilyRate, units: 1}
	if metered {
		p.family, p.units = cost.Family, cost.Units
		p.own = e.splits.ops[r.Upstream][r.Operation]
		if p.own == "" {
			p.marks = []mark{{markKey(r.Credential, r.Upstream, cost.Family), cost.Family, always}}
			p.checks = e.appendChecks(p.checks, ls, r, cost.Family, cost.Units, now, always, always)
		} else {
			p.split = splitKey(r.Credential, r.Upstream, cost.Family)
			p.marks = []mark{
				{markKey(r.Credential, r.Upstream, cost.Family), cost.Family, whileCombined},
				{markKey(r.Credential, r.Upstream, p.own), p.own, whileSplit},
			}
			p.checks = e.appendChecks(p.checks, ls, r, cost.Family, cost.Units, now, whileCombined, always)
			p.checks = e.appendChecks(p.checks, ls, r, p.own, cost.Units, now, whileSplit, whileSplit)
		}
	}
	p.checks = e.appendChecks(p.checks, ls, r, FamilyRate, 1, now, always, always)
	return p, nil
}

// appendChecks appends the checks of family's rules that apply to r: the
// credential's rules in variant cred, the tenant's in variant ten.
func (e *Engine) appendChecks(dst []check, ls *limitSet, r Request, family string, units int64, now time.Time, cred, ten variant) []check {
	slots := ls.rules[famKey{r.Upstream, family}]
	for i := range slots {
		s := &slots[i]
		owner, in := r.Credential, cred
		if s.scope == ScopeTenant {
			if owner, in = r.Tenant, ten; owner == "" {
				continue
			}
		}
		if rule, ok := s.resolve(owner); ok {
			c := e.newCheck(rule, r.Credential, units, now)
			c.in = in
			dst = append(dst, c)
		}
	}
	return dst
}
