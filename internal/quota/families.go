package quota

import "github.com/legalgate/legalgate/internal/ops"

// Quota family names used by the gateway's code and tests; the contract's
// x-gateway rules (internal/ops) say which operation spends which.
const (
	FamilyLinksControl = "links_control" // Garant find-hyperlinks, find-modified, block-on-control/changed
	FamilyExport       = "export"        // Garant rtf/odt/pdf/html, entry html, image, formula
	FamilyTopicInfo    = "topic_info"    // Garant /v2/topic/{topic}
	FamilySingle       = "single"        // FSSP single searches
	FamilyGroup        = "group"         // FSSP group requests
)

// Garant's links_control, per method, for a credential whose /v2/limits
// counts the three methods separately.
const (
	FamilyFindHyperlinks = "links_control_find_hyperlinks" // Garant find-hyperlinks
	FamilyFindModified   = "links_control_find_modified"   // Garant find-modified
	FamilyBlocksChanged  = "links_control_blocks_changed"  // Garant block-on-control/changed
)

// FamiliesOf maps each metered operation of the table to its quota family
// and cost (one unit), per upstream. Operations not listed are unmetered,
// except that every operation of an upstream with a FamilyRate rule costs
// one unit of it.
func FamiliesOf(t *ops.Table) map[string]map[string]Cost {
	out := map[string]map[string]Cost{}
	for _, up := range t.Upstreams() {
		out[up] = map[string]Cost{}
		for _, o := range t.Of(up) {
			if o.Metered() {
				out[up][o.ID] = Cost{Family: o.Family, Units: 1}
			}
		}
	}
	return out
}

// Split lets the operations of one family be counted each in a family of its
// own, per credential: a credential's family is combined until SetSplit says
// its upstream counts the operations separately (Garant's /v2/limits listing
// them as separate entries), and the choice is kept in Redis for every
// replica. While split, an operation is checked against:
//
//   - its own family's credential rules; when none are configured, the
//     combined family's credential rules, inherited (same periods and
//     limits) and counted per operation;
//   - the combined family's tenant rules, counted as before the split (a
//     tenant's allocation covers the operations together), and any tenant
//     rules configured for its own family;
//   - its own family's 423 mark: a 423 on one operation spends only it.
//
// While combined, the operations count in the combined family as if there
// were no split.
type Split struct {
	Upstream, Family string            // the combined family
	Operations       map[string]string // operation id → its own family
}

// SplitsOf is one Split per family whose operations the table gives a
// quota_split family of their own (Garant's links_control, per method).
func SplitsOf(t *ops.Table) []Split {
	var out []Split
	idx := map[[2]string]int{}
	for _, o := range t.All() {
		if o.SplitFamily == "" {
			continue
		}
		k := [2]string{o.Upstream, o.Family}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Split{Upstream: o.Upstream, Family: o.Family, Operations: map[string]string{}})
		}
		out[i].Operations[o.ID] = o.SplitFamily
	}
	return out
}
