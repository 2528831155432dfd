package quota

// The families of DefaultFamilies.
const (
	FamilyLinksControl = "links_control" // Garant find-hyperlinks, find-modified, block-on-control/changed
	FamilyExport       = "export"        // Garant rtf/odt/pdf/html, entry html, image, formula
	FamilyTopicInfo    = "topic_info"    // Garant /v2/topic/{topic}
	FamilySingle       = "single"        // FSSP single searches
	FamilyGroup        = "group"         // FSSP group requests
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
