package apispec

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// operationIDs are the operations other packages are written against. Adding
// one is fine; renaming or dropping one breaks internal/handlers.
var operationIDs = []string{
	// Gateway
	"getHealthz", "getReadyz", "getOpenAPIJSON", "getOpenAPIYAML", "getDocs", "getQuotas", "getQuotaUsage",
	// Webhooks
	"listWebhookDeliveries", "redeliverWebhook",
	// Garant
	"garantSearch", "garantSnippets", "garantFindHyperlinks", "garantGetTopic", "garantGetTopicEditions",
	"garantGetTopicHTML", "garantGetEntryHTML", "garantExportTopic", "garantGetImage", "garantGetFormula",
	"garantFindModified", "garantBlocksChanged", "garantPrimeCategories", "garantPrimeNews",
	"garantCourtPractice", "garantGetLimits", "garantPurgeCache",
	"createGarantWatch", "listGarantWatches", "deleteGarantWatch",
	// FSSP
	"fsspSearchPhysical", "fsspSearchLegal", "fsspSearchIP", "fsspSearchGroup", "fsspGetTask",
	// FIPS
	"fipsListApplications", "fipsCreateApplication", "fipsGetApplication", "fipsUpdateApplication",
	"fipsDeleteApplication", "fipsGetPackage", "fipsSubmitApplication", "fipsListDocuments",
	"fipsCreateDocument", "fipsGetDocument", "fipsUpdateDocument", "fipsDeleteDocument",
	"fipsGetDocumentFile", "fipsPutDocumentFile", "fipsClearDocumentFile", "fipsGetStatement",
	"fipsPutStatement", "fipsListSignatures", "fipsAddSignature", "fipsListApplicantCategories",
	"fipsListApplicantDocumentTypes", "fipsListDocumentTypes",
	// Garant's own shapes: one per route of internal/handlers' garantCompatRoutes
	"compatGarantSearch", "compatGarantSnippets", "compatGarantFindHyperlinks", "compatGarantGetTopic",
	"compatGarantDownloadRTF", "compatGarantDownloadODT", "compatGarantDownloadPDF", "compatGarantGetTopicHTML",
	"compatGarantGetEntryHTML", "compatGarantGetImage", "compatGarantGetFormula", "compatGarantGetRedactions",
	"compatGarantFindModified", "compatGarantBlocksChanged", "compatGarantPrimeCategories", "compatGarantPrimeNews",
	"compatGarantSutyazhnikSearch", "compatGarantGetLimits",
	// FSSP's own shapes
	"compatFsspSearchPhysical", "compatFsspSearchLegal", "compatFsspSearchIP", "compatFsspSearchGroup",
	"compatFsspStatus", "compatFsspResult",
	// FIPS's own shapes: one per operation of the default route table
	"compatFipsListApplications", "compatFipsCreateApplication", "compatFipsGetApplication",
	"compatFipsUpdateApplication", "compatFipsDeleteApplication", "compatFipsGetPackage",
	"compatFipsSubmitApplication", "compatFipsListDocuments", "compatFipsCreateDocument",
	"compatFipsGetDocument", "compatFipsUpdateDocument", "compatFipsDeleteDocument",
	"compatFipsGetDocumentFile", "compatFipsPutDocumentFile", "compatFipsClearDocumentFile",
	"compatFipsGetStatement", "compatFipsPutStatement", "compatFipsListSignatures", "compatFipsAddSignature",
	"compatFipsListApplicantCategories", "compatFipsListApplicantDocumentTypes", "compatFipsListDocumentTypes",
}

// publicOperations are the only operations that need no API key.
var publicOperations = []string{"getHealthz", "getReadyz", "getOpenAPIJSON", "getOpenAPIYAML", "getDocs"}

var tags = []string{"Gateway", "Garant", "FSSP", "FIPS", "compat-garant", "compat-fssp", "compat-fips"}

// native reports whether op answers in its upstream's own shapes
// (x-gateway native: true): its errors are the upstream's, not problems,
// and its key is where the upstream takes it (a group's is in the body).
func native(op *openapi3.Operation) bool {
	rules, _ := op.Extensions["x-gateway"].(map[string]any)
	return rules["native"] == true
}

type operation struct {
	method, path string
	op           *openapi3.Operation
}

func load(t *testing.T) (*openapi3.T, []operation) {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("openapi.yaml")
	if err != nil {
		t.Fatalf("LoadFromFile(openapi.yaml) = %v, want nil", err)
	}
	var ops []operation
	for _, path := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(path).Operations() {
			ops = append(ops, operation{method, path, op})
		}
	}
	return doc, ops
}

func TestSpecIsValid(t *testing.T) {
	doc, _ := load(t)
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	// The request validator answers "no matching operation was found" when
	// servers do not match the request's host, so the contract has none.
	if len(doc.Servers) != 0 {
		t.Errorf("servers = %v, want none", doc.Servers)
	}
	if _, ok := doc.Components.SecuritySchemes["bearerAuth"]; !ok {
		t.Errorf("components.securitySchemes has no bearerAuth")
	}
	if doc.Security == nil || len(doc.Security) != 1 || doc.Security[0]["bearerAuth"] == nil {
		t.Errorf("global security = %v, want [{bearerAuth: []}]", doc.Security)
	}
}

func TestOperationsHaveIDsAndTags(t *testing.T) {
	doc, ops := load(t)
	declared := map[string]bool{}
	for _, tag := range doc.Tags {
		declared[tag.Name] = true
	}
	for _, tag := range tags {
		if !declared[tag] {
			t.Errorf("tags does not declare %q", tag)
		}
	}
	seen := map[string]bool{}
	for _, o := range ops {
		name := o.method + " " + o.path
		if o.op.OperationID == "" {
			t.Errorf("%s: no operationId", name)
		}
		if seen[o.op.OperationID] {
			t.Errorf("%s: operationId %q is used twice", name, o.op.OperationID)
		}
		seen[o.op.OperationID] = true
		if len(o.op.Tags) != 1 || !slices.Contains(tags, o.op.Tags[0]) {
			t.Errorf("%s: tags = %v, want one of %v", name, o.op.Tags, tags)
		}
		if o.op.Summary == "" || o.op.Description == "" {
			t.Errorf("%s: summary or description is empty", name)
		}
	}
	for _, id := range operationIDs {
		if !seen[id] {
			t.Errorf("operationId %q is missing", id)
		}
	}
	if len(seen) != len(operationIDs) {
		t.Errorf("%d operations, want %d (update operationIDs when adding one)", len(seen), len(operationIDs))
	}
}

func TestSecurity(t *testing.T) {
	_, ops := load(t)
	for _, o := range ops {
		id := o.op.OperationID
		public := o.op.Security != nil && len(*o.op.Security) == 0 && !native(o.op)
		if want := slices.Contains(publicOperations, id); public != want {
			t.Errorf("%s: public = %v, want %v", id, public, want)
		}
		if public {
			continue
		}
		// Every authenticated operation can fail authentication and can fail
		// inside the gateway; redocly's operation-4xx-response rule is off
		// for the public operations, so this is where 4xx coverage is kept.
		for _, code := range []int{http.StatusUnauthorized, http.StatusInternalServerError} {
			if o.op.Responses.Status(code) == nil {
				t.Errorf("%s: no %d response", id, code)
			}
		}
		if o.op.RequestBody != nil && o.op.Responses.Status(http.StatusBadRequest) == nil {
			t.Errorf("%s: has a request body but no 400 response", id)
		}
	}
}

func TestErrorResponsesAreProblems(t *testing.T) {
	_, ops := load(t)
	for _, o := range ops {
		for code, ref := range o.op.Responses.Map() {
			status, err := strconv.Atoi(code)
			if err != nil {
				t.Errorf("%s: response %q is not a status code", o.op.OperationID, code)
				continue
			}
			if status < 400 {
				continue
			}
			resp := ref.Value
			if native(o.op) {
				// The upstream's own error shape, as its clients read it.
				if resp.Content.Get("application/json") == nil {
					t.Errorf("%s %d: a native operation's error is not application/json", o.op.OperationID, status)
				}
				continue
			}
			if len(resp.Content) != 1 || resp.Content.Get("application/problem+json") == nil {
				t.Errorf("%s %d: content types = %v, want only application/problem+json",
					o.op.OperationID, status, keys(resp.Content))
				continue
			}
			schema := resp.Content.Get("application/problem+json").Schema
			if !isProblem(schema) {
				t.Errorf("%s %d: schema is not #/components/schemas/Problem", o.op.OperationID, status)
			}
		}
	}
}

func keys(c openapi3.Content) []string {
	var ks []string
	for k := range c {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// isProblem tells whether s is the Problem schema or extends it (allOf with
// Problem first, as NotReadyProblem does).
func isProblem(s *openapi3.SchemaRef) bool {
	if s == nil {
		return false
	}
	if s.Ref == "#/components/schemas/Problem" {
		return true
	}
	if s.Value != nil && len(s.Value.AllOf) > 0 {
		return s.Value.AllOf[0].Ref == "#/components/schemas/Problem"
	}
	return false
}
