package quota

// The families of DefaultFamilies.
const (
	FamilyLinksControl = "links_control" // Garant find-hyperlinks, find-modified, block-on-control/changed
	FamilyExport       = "export"        // Garant rtf/odt/pdf/html, entry html, image, formula
	FamilyTopicInfo    = "topic_info"    // Garant /v2/topic/{topic}
	FamilySingle       = "single"        // FSSP single searches
	FamilyGroup        = "group"         // FSSP group requests
)

// The families of DefaultSplits: links_control, per method, for a Garant
// credential whose /v2/limits counts the three methods separately.
const (
	FamilyFindHyperlinks = "links_control_find_hyperlinks" // Garant find-hyperlinks
	FamilyFindModified   = "links_control_find_modified"   // Garant find-modified
	FamilyBlocksChanged  = "links_control_blocks_changed"  // Garant block-on-control/changed
)

// DefaultFamilies is the one table mapping upstream operations to quota
// families and costs. Operations not listed are unmetered, except that every
// operation of an upstream with a FamilyRate rule costs one unit of it.
// FIPS has no metered operations by default.
func DefaultFamilies() map[string]map[string]Cost {
	one := func(family string) Cost { return Cost{Family: family, Units: 1} }
	return map[string]map[string]Cost{
		"garant": {
			"garantFindHyperlinks": one(FamilyLinksControl),
			"garantFindModified":   one(FamilyLinksControl),
			"garantBlocksChanged":  one(FamilyLinksControl),
			"garantExportTopic":    one(FamilyExport),
			"garantGetTopicHTML":   one(FamilyExport),
			"garantGetEntryHTML":   one(FamilyExport),
			"garantGetImage":       one(FamilyExport),
			"garantGetFormula":     one(FamilyExport),
			"garantGetTopic":       one(FamilyTopicInfo),
		},
		"fssp": {
			"fsspSearchPhysical": one(FamilySingle),
			"fsspSearchLegal":    one(FamilySingle),
			"fsspSearchIP":       one(FamilySingle),
			"fsspSearchGroup":    one(FamilyGroup),
		},
		"fips": {},
	}
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

// DefaultSplits splits Garant's links_control into its three methods.
func DefaultSplits() []Split {
	return []Split{{Upstream: "garant", Family: FamilyLinksControl, Operations: map[string]string{
		"garantFindHyperlinks": FamilyFindHyperlinks,
		"garantFindModified":   FamilyFindModified,
		"garantBlocksChanged":  FamilyBlocksChanged,
	}}}
}
