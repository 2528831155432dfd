package quota

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/legalgate/legalgate/internal/apperr"
)

// splits indexes Config.Splits.
type splits struct {
	ops    map[string]map[string]string // upstream → operation → its own family
	owns   map[famKey][]string          // combined family → its own families, sorted
	parent map[famKey]string            // own family → combined family
}

// indexSplits validates list against families. Defaults (explicit false)
// that do not match families are left out instead of failing.
func indexSplits(list []Split, explicit bool, families map[string]map[string]Cost) (splits, error) {
	sp := splits{ops: map[string]map[string]string{}, owns: map[famKey][]string{}, parent: map[famKey]string{}}
	for i, s := range list {
		for _, n := range []string{s.Upstream, s.Family} {
			if err := validName("name", n); err != nil || n == "" {
				return sp, fmt.Errorf("quota: split %d: upstream and family are required names", i)
			}
		}
		combined := famKey{s.Upstream, s.Family}
		for _, op := range slices.Sorted(maps.Keys(s.Operations)) {
			own := s.Operations[op]
			if families[s.Upstream][op].Family != s.Family {
				if !explicit {
					continue
				}
				return sp, fmt.Errorf("quota: split %d: operation %s is not in family %s/%s", i, op, s.Upstream, s.Family)
			}
			if err := validName("family", own); err != nil || own == "" || own == s.Family {
				return sp, fmt.Errorf("quota: split %d: operation %s: bad family %q", i, op, own)
			}
			if _, dup := sp.owns[famKey{s.Upstream, own}]; dup {
				return sp, fmt.Errorf("quota: split %d: %s is split itself", i, own)
			}
			if sp.ops[s.Upstream] == nil {
				sp.ops[s.Upstream] = map[string]string{}
			}
			sp.ops[s.Upstream][op] = own
			if _, seen := sp.parent[famKey{s.Upstream, own}]; !seen {
				sp.owns[combined] = append(sp.owns[combined], own)
			}
			sp.parent[famKey{s.Upstream, own}] = s.Family
		}
		slices.Sort(sp.owns[combined])
	}
	return sp, nil
}

// inherit gives each own family without credential rules of its own the
// combined family's credential rules (same periods and limits, counted in
// the own family's keys). Call after indexRules.
func (sp *splits) inherit(rules map[famKey][]slot) {
	for own, combined := range sp.parent {
		configured := false
		for _, s := range rules[own] {
			configured = configured || s.scope == ScopeCredential
		}
		if configured {
			continue
		}
		var add []slot
		for _, s := range rules[famKey{own.upstream, combined}] {
			if s.scope != ScopeCredential {
				continue
			}
			c := slot{scope: s.scope, period: s.period, byOwner: map[string]Rule{}}
			if s.def != nil {
				d := *s.def
				d.Family = own.family
				c.def = &d
			}
			for o, r := range s.byOwner {
				r.Family = own.family
				c.byOwner[o] = r
			}
			add = append(add, c)
		}
		if len(add) > 0 {
			rules[own] = append(add, rules[own]...) // credential slots first, as indexRules sorts them
		}
	}
}

// shown reports whether Usage rows of family at scope apply to a credential
// whose combined families are split as split says.
func (sp *splits) shown(upstream, family string, scope Scope, split map[string]bool) bool {
	if _, ok := sp.owns[famKey{upstream, family}]; ok {
		return scope == ScopeTenant || !split[family]
	}
	if p, ok := sp.parent[famKey{upstream, family}]; ok {
		return split[p]
	}
	return true
}

func splitKey(cred, upstream, family string) string {
	return "{cred:" + cred + "}:q:split:" + upstream + ":" + family
}

// SetSplit records whether credential's family (the combined family of a
// Split) is counted per operation (split) or combined, for every replica; the
// choice is kept in Redis without expiry, so it survives restarts, until the
// next call changes it. A change drops the cached exhaustions of the
// credential's combined and own families on every subscribed engine (see
// Run). It reports whether the choice changed.
func (e *Engine) SetSplit(ctx context.Context, credential, upstream, family string, split bool) (bool, error) {
	owns, ok := e.splits.owns[famKey{upstream, family}]
	if !ok {
		return false, apperr.Wrap(apperr.Internal, "", fmt.Errorf("quota: split %s/%s: not a split family", upstream, family))
	}
	if err := validName("credential", credential); err != nil || credential == "" {
		return false, badName("split", upstream+"/"+family)
	}
	inv := []localKey{{ScopeCredential, credential, upstream, family}}
	for _, o := range owns {
		inv = append(inv, localKey{ScopeCredential, credential, upstream, o}, localKey{ScopeTenant, "", upstream, o})
	}
	v := "0"
	if split {
		v = "1"
	}
	rctx, cancel := e.redisCtx(ctx)
	defer cancel()
	changed, err := e.s.split.Run(rctx, e.rdb, []string{splitKey(credential, upstream, family)}, v, e.channel, encodeInvalidation(inv)).Int()
	if err != nil {
		return false, storeErr(upstream, fmt.Errorf("quota: split %s/%s: %w", upstream, family, err))
	}
	if changed == 1 {
		e.local.invalidate(inv)
	}
	return changed == 1, nil
}

// encodeInvalidation is the message naming keys: one "scope:owner:upstream:
// family" a line; an empty owner stands for every owner of the scope.
func encodeInvalidation(keys []localKey) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(string(k.scope) + ":" + k.owner + ":" + k.upstream + ":" + k.family)
	}
	return b.String()
}

// decodeInvalidation parses a message of encodeInvalidation, skipping
// malformed lines.
func decodeInvalidation(msg string) []localKey {
	var keys []localKey
	for line := range strings.SplitSeq(msg, "\n") {
		f := strings.Split(line, ":")
		if len(f) != 4 || (f[0] != string(ScopeCredential) && f[0] != string(ScopeTenant)) {
			continue
		}
		keys = append(keys, localKey{Scope(f[0]), f[1], f[2], f[3]})
	}
	return keys
}
